"""Records as they come off a topic or a file, and the dead letters made of them (shared by every part)."""

from __future__ import annotations

import base64
from dataclasses import dataclass

from finsentry.ids import content_id
from finsentry.schemas import DeadLetter

KEEP_BYTES = 256 * 1024  # ~350 KB in base64: far below the broker's 1 MB message limit


@dataclass(frozen=True)
class RawRecord:
    """A message as it came off a topic."""

    value: bytes | None
    topic: str = ""
    partition: int | None = None
    offset: int | None = None


def dead_letter(raw: RawRecord, stage: str, reason: str) -> DeadLetter:
    """A dead letter whose id is stable for the same bytes at the same place (retries dedupe).

    An original over ``KEEP_BYTES`` is kept by its head only (the reason says so): in base64, a
    whole one could exceed the broker's message limit, and a dead letter that cannot be sent
    would stop the worker on the very record it is meant to set aside.
    """
    value = raw.value or b""
    where = f"{raw.topic}:{raw.partition}:{raw.offset}"
    reason = reason[:2000]
    if len(value) > KEEP_BYTES:
        reason += f" (original truncated to its first {KEEP_BYTES} of {len(value)} bytes)"
    return DeadLetter(
        id=content_id(stage, where, value),
        stage=stage,
        reason=reason,
        original_b64=base64.b64encode(value[:KEEP_BYTES]).decode("ascii"),
        source_topic=raw.topic or None,
        partition=raw.partition,
        offset=raw.offset,
    )
