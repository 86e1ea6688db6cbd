"""Bulk writes to Elasticsearch: chunked by count and bytes, retried with backoff, per-item verdicts.

An item the server refuses on its own (mapping error, too large) is final and reported as
``Rejected``; an item or request refused for load (429, 503) or a lost connection is retried
until ``retry_seconds`` have passed, then ``ServiceUnavailable`` is raised so nothing is acked.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from finsentry.errors import ServiceUnavailable
from finsentry.protocols import Rejected

log = logging.getLogger(__name__)

RETRY_STATUS = frozenset({429, 502, 503, 504})


@dataclass(frozen=True)
class BulkItem:
    """One document to index: where, under which id, and its JSON body."""

    index: str
    doc_id: str
    body: bytes

    def lines(self) -> bytes:
        """The two NDJSON lines of this item."""
        action = json.dumps({"index": {"_index": self.index, "_id": self.doc_id}}).encode()
        return action + b"\n" + self.body + b"\n"


@dataclass
class BulkWriter:
    """Sends items with ``client.bulk``; chunks hold at most ``max_docs`` items and ``max_bytes`` bytes.

    Args:
        client: an ``elasticsearch.Elasticsearch`` (or a wrapper with the same ``bulk``).
        where: the cluster's URL without credentials, for messages.
        retry_seconds: how long a refusal for load or a lost connection is retried.

    """

    client: Any
    where: str
    max_docs: int = 1000
    max_bytes: int = 5 * 1024 * 1024
    retry_seconds: float = 60.0
    refresh: bool = False
    sleep: Callable[[float], None] = field(default=time.sleep)

    def write(self, items: Sequence[BulkItem]) -> list[Rejected]:
        """Index every item; return the ones the server refused on their own."""
        rejected: list[Rejected] = []
        for chunk in self.chunks(items):
            rejected += self._send(chunk)
        return rejected

    def chunks(self, items: Sequence[BulkItem]) -> Iterator[list[BulkItem]]:
        """Consecutive runs of items within both limits (an item alone may exceed ``max_bytes``)."""
        chunk: list[BulkItem] = []
        size = 0
        for item in items:
            n = len(item.body) + 100
            if chunk and (len(chunk) >= self.max_docs or size + n > self.max_bytes):
                yield chunk
                chunk, size = [], 0
            chunk.append(item)
            size += n
        if chunk:
            yield chunk

    def _send(self, chunk: list[BulkItem]) -> list[Rejected]:
        deadline = time.monotonic() + self.retry_seconds
        pending, rejected, delay = chunk, [], 0.2
        while pending:
            retry, final = self._attempt(pending)
            rejected += final
            if not retry:
                break
            left = deadline - time.monotonic()
            if left <= 0:
                raise ServiceUnavailable(
                    f"Elasticsearch at {self.where} did not accept {len(retry)} document(s)"
                    f" within {self.retry_seconds:.0f}s"
                )
            log.warning("Elasticsearch at %s: %d item(s) to retry", self.where, len(retry))
            self.sleep(min(delay, left))
            pending, delay = retry, min(delay * 2, 5.0)
        return rejected

    def _attempt(self, pending: list[BulkItem]) -> tuple[list[BulkItem], list[Rejected]]:
        """One bulk request: (items to retry, items refused for good)."""
        from elasticsearch import ApiError, TransportError

        try:
            resp = self.client.bulk(operations=b"".join(i.lines() for i in pending), refresh=self.refresh)
        except ApiError as exc:
            if exc.meta.status == 413 and len(pending) > 1:  # the request, not an item: halve it
                half = len(pending) // 2
                return [], self._send(pending[:half]) + self._send(pending[half:])
            if exc.meta.status == 413:
                return [], [Rejected(doc_id=pending[0].doc_id, reason=f"too large: {exc.message}")]
            if exc.meta.status in RETRY_STATUS:
                return pending, []
            raise
        except TransportError:  # connection refused, reset, timed out
            return pending, []
        return _verdicts(pending, resp.body["items"])


def _verdicts(pending: list[BulkItem], results: list[dict[str, Any]]) -> tuple[list[BulkItem], list[Rejected]]:
    retry: list[BulkItem] = []
    final: list[Rejected] = []
    for item, result in zip(pending, results, strict=True):
        outcome = next(iter(result.values()))
        status = int(outcome.get("status", 500))
        if status < 300:
            continue
        if status in RETRY_STATUS or status >= 500:
            retry.append(item)
            continue
        error = outcome.get("error") or {}
        reason = f"{error.get('type', status)}: {error.get('reason', '')}" if isinstance(error, dict) else str(error)
        final.append(Rejected(doc_id=item.doc_id, reason=reason))
    return retry, final
