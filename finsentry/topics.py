"""Kafka topic names: the message contract between parts."""

from __future__ import annotations

RAW = "news.raw"  # NewsItem JSON, key = doc id
SCORED = "news.scored"  # ScoredDoc JSON, key = doc id
ALERTS = "alerts"  # Alert JSON, key = alert id
DEAD_LETTER = "news.dead-letter"  # DeadLetter JSON, key = dead-letter id

ALL: tuple[str, ...] = (RAW, SCORED, ALERTS, DEAD_LETTER)

MAX_MESSAGE_BYTES = 1_000_000  # Kafka's default message.max.bytes; records above it are refused
