"""Precision and recall of story grouping on the labelled pairs, through a real story index."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from finsentry.protocols import StoryIndex
from finsentry.schemas import ScoredDoc

PAIRS = Path(__file__).parent / "fixtures" / "story_pairs.tsv"


def load_pairs() -> list[tuple[bool, str, str, str]]:
    rows = []
    for line in PAIRS.read_text(encoding="utf-8").splitlines():
        if line[:1] in "01":
            label, kind, a, b = line.split("\t")
            rows.append((label == "1", kind, a, b))
    return rows


def doc(doc_id: str, title: str, when: datetime) -> ScoredDoc:
    return ScoredDoc(
        id=doc_id, source="eval", title=title, published_at=when, sentiment="neutral", sentiment_score=1.0,
        topic="General News | Opinion", topic_score=1.0, model_version="eval",
    )  # fmt: skip


def grouping_scores(index: StoryIndex) -> dict[str, float]:
    """Each pair ten days from the next (outside each other's window); the later copy an hour after."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    tp = fp = fn = tn = 0
    for n, (same, _kind, a, b) in enumerate(load_pairs()):
        when = start + timedelta(days=10 * n)
        [first] = index.assign([doc(f"p{n}a", a, when)])
        [second] = index.assign([doc(f"p{n}b", b, when + timedelta(hours=1))])
        grouped = second.story_id == first.id
        tp += same and grouped
        fp += (not same) and grouped
        fn += same and not grouped
        tn += (not same) and not grouped
    return {
        "pairs": tp + fp + fn + tn,
        "precision": tp / max(tp + fp, 1),
        "recall": tp / max(tp + fn, 1),
        "false_merges": fp,
        "missed_copies": fn,
    }
