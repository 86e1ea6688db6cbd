"""Windows and statistics: plain functions over scored documents, no I/O.

Windows are tumbling, aligned to UTC multiples of ``window_s``, by event time (published time,
else the producer's fetch time), so a replay puts every document in the same window. Everything is
counted in distinct stories (``story_id``): syndicated copies of one story count once.

Statistics (the ``statistic`` an alert names):

- ``poisson_z`` (signal ``negative_stories``): the baseline is the mean number of negative stories
  in the ``baseline_windows`` earlier windows (missing windows count 0), never below
  ``baseline_floor``; the score is ``(count - baseline) / sqrt(baseline)``, the normal approximation
  of the Poisson upper tail. The floor keeps a quiet key's first burst from being infinitely
  surprising and lets it fire on ``min_stories`` alone.
- ``binomial_z`` (signal ``negative_share``): the baseline share is the smoothed negative share of
  the baseline windows' stories, ``(neg + 1) / (stories + 2)`` (one negative and one other story
  assumed when there is no history); the score is ``(share - p0) / sqrt(p0 (1 - p0) / n)``.
- ``mean_drop_z`` (signal ``mean_sentiment``): the drop of the window's mean signed score below the
  baseline stories' mean, in standard errors (the baseline's spread, floored at 0.1).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from alerts.rules import Rule
from finsentry.schemas import ScoredDoc

_SD_FLOOR = 0.1


def window_start(t: datetime, window_s: int) -> datetime:
    """Start of the tumbling window holding ``t`` (UTC, aligned to multiples of ``window_s``)."""
    seconds = math.floor(t.timestamp() / window_s) * window_s
    return datetime.fromtimestamp(seconds, UTC)


def keys_of(doc: ScoredDoc, dimension: str) -> list[str]:
    """The keys a document counts under for a rule's dimension."""
    if dimension == "ticker":
        return sorted({t.upper() for t in doc.tickers})
    if dimension == "topic":
        return [doc.topic]
    if dimension == "source":
        return [doc.source]
    return ["all"]


@dataclass
class WindowStats:
    """One window of one key: its stories, which are negative, and their signed scores."""

    stories: dict[str, ScoredDoc] = field(default_factory=dict)  # story id -> its first document seen

    @property
    def total(self) -> int:
        """Distinct stories."""
        return len(self.stories)

    @property
    def negative(self) -> int:
        """Distinct stories whose representative document is negative."""
        return sum(1 for d in self.stories.values() if d.sentiment == "negative")

    def summary(self) -> Summary:
        """What the statistics need, without the documents."""
        scores = [d.signed_score for d in self.stories.values()]
        return Summary(self.total, self.negative, sum(scores), sum(s * s for s in scores))


@dataclass(frozen=True)
class Summary:
    """A window's distinct stories, negative stories, and the sum and sum of squares of their signed scores."""

    total: int = 0
    negative: int = 0
    score_sum: float = 0.0
    score_sumsq: float = 0.0


EMPTY = Summary()


def window_stats(docs: Iterable[ScoredDoc], window_s: int) -> dict[datetime, WindowStats]:
    """Group documents into windows and stories; a story is represented by its earliest copy."""
    out: dict[datetime, WindowStats] = {}
    for doc in sorted(docs, key=lambda d: (d.event_time, d.id)):
        w = out.setdefault(window_start(doc.event_time, window_s), WindowStats())
        w.stories.setdefault(doc.story_id, doc)
    return out


@dataclass(frozen=True)
class Verdict:
    """What a rule says about one window."""

    fires: bool
    count: int
    baseline: float
    score: float
    statistic: str


def _poisson(rule: Rule, cur: Summary, base: Sequence[Summary]) -> Verdict:
    count = cur.negative
    lam = max(sum(b.negative for b in base) / rule.baseline_windows, rule.baseline_floor)
    score = (count - lam) / math.sqrt(lam)
    return Verdict(count >= rule.min_stories and score >= rule.z, count, lam, score, "poisson_z")


def _binomial(rule: Rule, cur: Summary, base: Sequence[Summary]) -> Verdict:
    n, neg = cur.total, cur.negative
    p0 = (sum(b.negative for b in base) + 1) / (sum(b.total for b in base) + 2)
    score = 0.0 if n == 0 else (neg / n - p0) / math.sqrt(p0 * (1 - p0) / n)
    return Verdict(n >= rule.min_stories and score >= rule.z, neg, p0 * n, score, "binomial_z")


def _mean_drop(rule: Rule, cur: Summary, base: Sequence[Summary]) -> Verdict:
    n_hist = sum(b.total for b in base)
    m0 = sum(b.score_sum for b in base) / n_hist if n_hist else 0.0
    var = max(sum(b.score_sumsq for b in base) / n_hist - m0 * m0, 0.0) if n_hist else 0.0
    sd = max(math.sqrt(var), _SD_FLOOR)
    n = cur.total
    score = 0.0 if n == 0 else (m0 - cur.score_sum / n) / (sd / math.sqrt(n))
    return Verdict(n >= rule.min_stories and score >= rule.z, n, m0, score, "mean_drop_z")


_SIGNALS = {"negative_stories": _poisson, "negative_share": _binomial, "mean_sentiment": _mean_drop}


def verdict(rule: Rule, stats: Mapping[datetime, Summary], start: datetime) -> Verdict:
    """Judge the window starting at ``start`` against the ``baseline_windows`` windows before it."""
    step = timedelta(seconds=rule.window_s)
    base = [stats.get(start - step * (i + 1), EMPTY) for i in range(rule.baseline_windows)]
    return _SIGNALS[rule.signal](rule, stats.get(start, EMPTY), base)


def incident_start(
    rule: Rule, stats: Mapping[datetime, Summary], start: datetime, quiet: int, lookback: int
) -> datetime:
    """The first firing window of the incident that the firing window ``start`` belongs to.

    Walks back while fewer than ``quiet`` non-firing windows separate firing ones (flap control),
    at most ``lookback`` windows: deterministic from the stored documents, so every detector
    instance and every replay derives the same start (and so the same alert id).
    """
    step = timedelta(seconds=rule.window_s)
    first, gap = start, 0
    for i in range(1, lookback + 1):
        w = start - step * i
        if verdict(rule, stats, w).fires:
            first, gap = w, 0
        else:
            gap += 1
            if gap >= quiet:
                break
    return first


def evidence(stats: WindowStats, rule: Rule, limit: int = 50) -> list[str]:
    """Document ids behind a window, newest first: the negative stories (every story for means)."""
    docs = [d for d in stats.stories.values() if rule.signal == "mean_sentiment" or d.sentiment == "negative"]
    docs.sort(key=lambda d: (d.event_time, d.id), reverse=True)
    return [d.id for d in docs[:limit]]
