"""Label maps for the two heads, fixed by the vendored data sets."""

from __future__ import annotations

from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"

# The sentiment CSV encodes 0 = Bearish, 1 = Bullish, 2 = Neutral; the model's own
# order is negative/neutral/positive so that argmax indices read naturally.
SENTIMENTS: tuple[str, ...] = ("negative", "neutral", "positive")
SENTIMENT_FROM_CSV: dict[int, int] = {0: 0, 1: 2, 2: 1}


def _read_topics() -> tuple[str, ...]:
    lines = (DATA_DIR / "topic" / "classes.txt").read_text(encoding="utf-8").splitlines()
    return tuple(line.strip() for line in lines if line.strip())


TOPICS: tuple[str, ...] = _read_topics()
