"""Replay a JSON-lines file onto ``news.raw``; oversize lines become dead letters here."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

from finsentry import topics
from finsentry.deadletter import RawRecord, dead_letter
from finsentry.errors import InvalidRecord
from finsentry.guard import guarded, loads_json
from finsentry.ids import content_id, doc_id
from finsentry.topics import MAX_MESSAGE_BYTES

log = logging.getLogger(__name__)
DEMO_FEED = Path(__file__).resolve().parent / "demo_feed.jsonl"
_DL_KEEP = 64 * 1024  # a dead letter for a huge record keeps only its head, or it too would be refused


def record_key(line: bytes) -> bytes:
    """The Kafka key: the doc id when the line names a URL or guid, else a content hash.

    The worker recomputes the id itself; the key only spreads records over partitions
    so that copies of one story land on one partition, in order.
    """
    try:
        return guarded(_id_key, line)  # a hostile line (deep nesting, a huge number) gets a content hash
    except InvalidRecord:
        return content_id(line).encode()


def _id_key(line: bytes) -> bytes:
    obj = cast("dict[str, Any]", loads_json(line))
    return doc_id(obj.get("url"), str(obj.get("source") or ""), obj.get("guid")).encode()


def lines(path: Path) -> Iterator[bytes]:
    """Raw lines of the file, bytes as they are (the worker judges the encoding)."""
    with path.open("rb") as fh:
        for line in fh:
            line = line.rstrip(b"\r\n")
            if line.strip():
                yield line


def replay(path: Path, bootstrap: str, rate: float = 0.0, producer: Any = None) -> tuple[int, int]:
    """Produce every line of ``path``; return (sent, dead-lettered).

    Args:
        path: a JSON-lines file of NewsItem objects.
        bootstrap: Kafka ``host:port``.
        rate: records per second; 0 sends as fast as the broker takes them.
        producer: an existing KafkaProducer to reuse.

    """
    from kafka import KafkaProducer

    own = producer is None
    producer = producer or KafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_request_size=MAX_MESSAGE_BYTES + 4096
    )
    sent = dead = 0
    started = time.monotonic()
    try:
        for n, line in enumerate(lines(path), start=1):
            if len(line) > MAX_MESSAGE_BYTES:
                reason = f"record too large: {len(line)} bytes > limit {MAX_MESSAGE_BYTES} (original truncated)"
                dl = dead_letter(RawRecord(line[:_DL_KEEP], "file:" + path.name, None, n), "ingest", reason)
                producer.send(topics.DEAD_LETTER, key=dl.id.encode(), value=dl.to_json_bytes())
                dead += 1
            else:
                producer.send(topics.RAW, key=record_key(line), value=line)
                sent += 1
            if rate > 0:
                time.sleep(max(0.0, n / rate - (time.monotonic() - started)))
            if n % 1000 == 0:
                log.info("replayed %d lines (%d sent, %d dead)", n, sent, dead)
        producer.flush()
    finally:
        if own:
            producer.close()
    log.info("replay of %s done: %d sent, %d dead-lettered", path.name, sent, dead)
    return sent, dead
