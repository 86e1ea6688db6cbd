"""Records as they come off a topic or a file, and the dead letters made of them (shared by every part)."""

from __future__ import annotations

import base64
from dataclasses import dataclass

from finsentry.ids import content_id
from finsentry.schemas import DeadLetter


@dataclass(frozen=True)
class RawRecord:
    """A message as it came off a topic."""

    value: bytes | None
    topic: str = ""
    partition: int | None = None
    offset: int | None = None


def dead_letter(raw: RawRecord, stage: str, reason: str) -> DeadLetter:
    """A dead letter whose id is stable for the same bytes at the same place (retries dedupe)."""
    value = raw.value or b""
    where = f"{raw.topic}:{raw.partition}:{raw.offset}"
    return DeadLetter(
        id=content_id(stage, where, value),
        stage=stage,
        reason=reason[:2000],
        original_b64=base64.b64encode(value).decode("ascii"),
        source_topic=raw.topic or None,
        partition=raw.partition,
        offset=raw.offset,
    )
