"""The detector's logic: which windows a batch touches, recounts from the store, alert lifecycle.

State lives in the stores, not in this object: window counts are recounted from the document
store on every evaluation and alerts are read back from the alert store, so a restarted or second
instance decides exactly what the first would have. Alert ids derive from (rule, key, first firing
window start), so a replay upserts the same alert.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from alerts.rules import Rule
from alerts.windows import (
    Summary,
    Verdict,
    WindowStats,
    evidence,
    incident_start,
    keys_of,
    verdict,
    window_start,
    window_stats,
)
from finsentry.ids import content_id
from finsentry.metrics import ALERTS_FIRED
from finsentry.protocols import AlertStore, SearchQuery
from finsentry.schemas import Alert, ScoredDoc, utcnow

log = logging.getLogger(__name__)
FETCH_LIMIT = 10_000  # documents per recount; a window busier than this is counted from its newest
CACHE_WINDOWS = 500_000  # summaries of closed windows kept (a few hundred bytes each)
Clock = Callable[[], datetime]

EVENT_FIRING = "alert.firing"
EVENT_RESOLVED = "alert.resolved"
EVENT_REPEAT = "alert.repeat"
EVENT_UPDATED = "alert.updated"  # stored and published, never notified


class Searchable(Protocol):
    """The one document-store read the detector needs."""

    def search(self, query: SearchQuery) -> list[ScoredDoc]:
        """Filtered documents, newest first."""
        ...


def alert_id(rule: str, key: str, first_window_start: datetime) -> str:
    """The id of an incident: the same for every instance and every replay."""
    return content_id("alert", rule, key, first_window_start.isoformat())


@dataclass(frozen=True)
class Change:
    """An alert that was written, with the state change it stands for."""

    alert: Alert
    event: str


@dataclass(frozen=True)
class Target:
    """A window of a key of a rule that new documents touched."""

    rule: str
    key: str
    start: datetime


class Detector:
    """Evaluates rules on windows touched by scored documents; writes alerts to ``alerts``.

    Args:
        rules: the validated rules.
        docs: where scored documents are recounted from.
        alerts: where alerts live.
        allowed_lateness_s: a document whose window ended longer than this before the newest event
            time seen is stored but no longer evaluated.
        resolve_after_windows: quiet windows before a firing alert resolves (flap control).
        repeat_interval_s: a firing alert is notified again this often.
        lookback_windows: how far back an incident's first window is searched.
        clock: now (UTC).
        publish: called with every change before it is stored, returning once the change is durable
            elsewhere (the ``alerts`` topic): a crash between the two makes a replay publish it again,
            never lose it.

    """

    def __init__(
        self,
        rules: Sequence[Rule],
        docs: Searchable,
        alerts: AlertStore,
        allowed_lateness_s: float = 60.0,
        resolve_after_windows: int = 2,
        repeat_interval_s: float = 3600.0,
        lookback_windows: int = 12,
        clock: Clock = utcnow,
        publish: Callable[[Change], None] | None = None,
    ) -> None:
        self.rules = {r.name: r for r in rules}
        self._docs, self._alerts = docs, alerts
        self._lateness = timedelta(seconds=allowed_lateness_s)
        self._quiet = resolve_after_windows
        self._repeat = timedelta(seconds=repeat_interval_s)
        self._lookback = max(lookback_windows, resolve_after_windows)
        self._clock = clock
        self._publish = publish or (lambda change: None)
        self.watermark: datetime | None = None
        self.late = 0
        # Closed windows (ended more than the allowed lateness before the watermark) no longer change,
        # so their summaries are kept: an evaluation recounts only the windows still open.
        self._closed: OrderedDict[tuple[str, str, datetime], Summary] = OrderedDict()
        self._recent: dict[str, ScoredDoc] = {}

    def targets(self, batch: Iterable[ScoredDoc]) -> list[Target]:
        """The (rule, key, window) triples a batch touches, late documents left out."""
        out: dict[Target, None] = {}
        batch = list(batch)
        # Stored before they were produced, but a search index may not show them yet: the recounts
        # of this batch's windows add them (by id, so nothing counts twice).
        self._recent = {d.id: d for d in batch}
        for doc in batch:
            t = doc.event_time
            self.watermark = t if self.watermark is None else max(self.watermark, t)
        for doc in batch:
            for rule in self.rules.values():
                start = window_start(doc.event_time, rule.window_s)
                end = start + timedelta(seconds=rule.window_s)
                if self.watermark is not None and end + self._lateness < self.watermark:
                    self.late += 1
                    continue
                for key in keys_of(doc, rule.dimension):
                    out.setdefault(Target(rule.name, key, start), None)
        return list(out)

    def recount(self, rule: Rule, key: str, since: datetime, until: datetime) -> dict[datetime, WindowStats]:
        """Window statistics of ``key`` in [since, until) straight from the document store."""
        q = SearchQuery(since=since, until=until, limit=FETCH_LIMIT)
        if rule.signal == "negative_stories":
            q = q.model_copy(update={"sentiment": "negative"})
        if rule.dimension != "all":
            q = q.model_copy(update={rule.dimension: key})
        docs = self._docs.search(q)
        if len(docs) >= FETCH_LIMIT:
            log.warning("rule %s key %s: more than %d documents to recount", rule.name, key, FETCH_LIMIT)
        seen = {d.id for d in docs}
        docs += [d for d in self._recent.values() if d.id not in seen and _matches(d, rule, key, since, until)]
        return window_stats(docs, rule.window_s)

    def _is_closed(self, rule: Rule, start: datetime) -> bool:
        end = start + timedelta(seconds=rule.window_s)
        return self.watermark is not None and end + self._lateness < self.watermark

    def summaries(
        self, rule: Rule, key: str, since: datetime, until: datetime
    ) -> tuple[dict[datetime, Summary], dict[datetime, WindowStats]]:
        """Summaries of every window in [since, until): closed ones from memory, the rest recounted.

        Returns the summaries and the recounted windows (with their documents, for evidence).
        """
        step = timedelta(seconds=rule.window_s)
        starts = [since + step * i for i in range(round((until - since) / step))]
        out: dict[datetime, Summary] = {}
        for i, w in enumerate(starts):
            cached = self._closed.get((rule.name, key, w)) if self._is_closed(rule, w) else None
            if cached is None:
                starts = starts[i:]
                break
            out[w] = cached
        else:
            return out, {}
        fresh = self.recount(rule, key, starts[0], until)
        for w in starts:
            out[w] = fresh[w].summary() if w in fresh else Summary()
            if self._is_closed(rule, w):
                self._closed[(rule.name, key, w)] = out[w]
                if len(self._closed) > CACHE_WINDOWS:
                    self._closed.popitem(last=False)
        return out, fresh

    def _open_alert(self, rule: str, key: str) -> Alert | None:
        firing = [a for a in self._alerts.list_alerts(state="firing", limit=10_000) if a.rule == rule and a.key == key]
        return max(firing, key=lambda a: a.window_start, default=None)

    def evaluate(self, target: Target) -> Change | None:
        """Recount one touched window (and its baseline) and fire, update or leave alone."""
        rule = self.rules[target.rule]
        step = timedelta(seconds=rule.window_s)
        since = target.start - step * (rule.baseline_windows + self._lookback)
        stats, fresh = self.summaries(rule, target.key, since, target.start + step)
        v = verdict(rule, stats, target.start)
        if not v.fires:
            return None
        current = fresh.get(target.start) or self._window(rule, target.key, target.start)
        open_ = self._open_alert(rule.name, target.key)
        if open_ is not None and target.start < open_.window_start + step * (self._quiet + 1):
            if target.start < open_.window_start:
                return None  # a late document in an earlier window of a running incident
            return self._write(open_, rule, target.start, v, current, EVENT_UPDATED)
        first = incident_start(rule, stats, target.start, self._quiet, self._lookback)
        aid = alert_id(rule.name, target.key, first)
        prev = self._alerts.get_alert(aid)
        if prev is not None and prev.state == "resolved":
            return None  # the incident is over; late stories in it do not reopen it
        if prev is not None:
            return self._write(prev, rule, max(target.start, prev.window_start), v, current, EVENT_UPDATED)
        new = Alert(
            id=aid,
            rule=rule.name,
            dimension=rule.dimension,
            signal=rule.signal,
            key=target.key,
            severity=rule.severity,
            first_window_start=first,
            window_start=target.start,
            window_end=target.start + step,
            count=v.count,
            threshold=rule.z,
            doc_ids=[],
            created_at=self._clock(),
        )
        return self._write(new, rule, target.start, v, current, EVENT_FIRING)

    def _write(
        self, alert: Alert, rule: Rule, start: datetime, v: Verdict, cur: WindowStats, event: str
    ) -> Change | None:
        update = {
            "window_start": start,
            "window_end": start + timedelta(seconds=rule.window_s),
            "count": v.count,
            "baseline": round(v.baseline, 6),
            "statistic": v.statistic,
            "score": round(v.score, 6),
            "doc_ids": evidence(cur, rule),
            "model_version": _model_version(cur),
            "state": "firing",
            "resolved_at": None,
        }
        if event == EVENT_UPDATED and all(getattr(alert, k) == val for k, val in update.items()):
            return None  # nothing new: a second instance or a replay saw the same documents
        changed = alert.model_copy(update={**update, "updated_at": self._clock()})
        log.info("%s %s %s=%s count=%d score=%.2f", event, rule.name, rule.dimension, alert.key, v.count, v.score)
        return self._emit(Change(changed, event))

    def _emit(self, change: Change) -> Change:
        self._publish(change)
        self._alerts.put_alert(change.alert)
        if change.event == EVENT_FIRING:
            ALERTS_FIRED.labels(change.alert.rule, change.alert.severity).inc()
        return change

    def _window(self, rule: Rule, key: str, start: datetime) -> WindowStats:
        end = start + timedelta(seconds=rule.window_s)
        return self.recount(rule, key, start, end).get(start, WindowStats())

    def tick(self) -> list[Change]:
        """Clock-driven lifecycle: resolve alerts after enough quiet windows, repeat long ones."""
        now = self._clock()
        changes: list[Change] = []
        for alert in self._alerts.list_alerts(state="firing", limit=10_000):
            rule = self.rules.get(alert.rule)
            if rule is None:
                continue
            change = self._maybe_resolve(alert, rule, now) or self._maybe_repeat(alert, now)
            if change is not None:
                changes.append(change)
        return changes

    def _maybe_resolve(self, alert: Alert, rule: Rule, now: datetime) -> Change | None:
        step = timedelta(seconds=rule.window_s)
        quiet_end = alert.window_end + step * self._quiet
        if quiet_end + self._lateness > now:
            return None
        since = alert.window_end - step * rule.baseline_windows
        stats, fresh = self.summaries(rule, alert.key, since, quiet_end)
        for i in range(self._quiet):
            w = alert.window_end + step * i
            v = verdict(rule, stats, w)
            if v.fires:  # a late document made a quiet window fire: the incident goes on
                cur = fresh.get(w) or self._window(rule, alert.key, w)
                return self._write(alert, rule, w, v, cur, EVENT_UPDATED)
        resolved = alert.model_copy(update={"state": "resolved", "resolved_at": quiet_end, "updated_at": now})
        log.info("%s %s %s=%s", EVENT_RESOLVED, alert.rule, alert.dimension, alert.key)
        return self._emit(Change(resolved, EVENT_RESOLVED))

    def _maybe_repeat(self, alert: Alert, now: datetime) -> Change | None:
        # counted from when the incident first fired, not from its window's start: an alert that
        # fires late in an old window must not repeat straight after its first notification
        due = int((now - alert.created_at) / self._repeat)
        if due <= alert.repeats:
            return None
        repeated = alert.model_copy(update={"repeats": due, "updated_at": now})
        return self._emit(Change(repeated, EVENT_REPEAT))


def _matches(doc: ScoredDoc, rule: Rule, key: str, since: datetime, until: datetime) -> bool:
    if rule.signal == "negative_stories" and doc.sentiment != "negative":
        return False
    return since <= doc.event_time < until and key in keys_of(doc, rule.dimension)


def _model_version(stats: WindowStats) -> str | None:
    versions = sorted((d.event_time, d.model_version) for d in stats.stories.values())
    return versions[-1][1] if versions else None
