"""Helpers both document stores share so that they answer with the same values."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from finsentry.protocols import KeyStat


def to_us(when: datetime) -> int:
    """Microseconds since the epoch, rounded exactly as ``cursor_of`` rounds."""
    return round(when.timestamp() * 1_000_000)


def parse_cursor(cursor: str) -> tuple[int, str]:
    """``"<event µs>:<id>"`` (validated by ``SearchQuery``) → (µs, id)."""
    us, _, doc_id = cursor.partition(":")
    return int(us), doc_id


def months_before(now: datetime, months: int) -> datetime:
    """The first instant of the month ``months - 1`` months before ``now``'s month (UTC).

    Keeping ``months`` months means keeping the current month and the ``months - 1`` before it.
    """
    index = now.astimezone(UTC).year * 12 + now.astimezone(UTC).month - 1 - (months - 1)
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def rank_keys(stats: Sequence[KeyStat], limit: int) -> list[KeyStat]:
    """Highest negative share first, then most documents, then key: one order for every backend."""
    return sorted(stats, key=lambda s: (-s.negative_share, -s.count, s.key))[:limit]
