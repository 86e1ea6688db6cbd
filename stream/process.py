"""Plain functions the worker calls: parse raw bytes, score, store. No Kafka in here."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import cast

from pydantic import ValidationError

from finsentry.deadletter import RawRecord, dead_letter
from finsentry.errors import FinsentryError, InvalidRecord, ServiceUnavailable
from finsentry.ids import doc_id
from finsentry.protocols import Classifier, DocumentStore, Rejected, StoryIndex
from finsentry.schemas import DeadLetter, NewsItem, ScoredDoc, extract_tickers

log = logging.getLogger(__name__)


@dataclass
class BatchResult:
    """What one batch produced: stored documents and dead letters."""

    scored: list[ScoredDoc] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)


def _validation_reason(exc: ValidationError) -> str:
    parts = [f"{'.'.join(str(p) for p in e['loc']) or 'record'}: {e['msg']}" for e in exc.errors()[:5]]
    return "invalid record: " + "; ".join(parts)


def _load_object(value: bytes | None, max_bytes: int) -> dict[str, object]:
    if not value:
        raise InvalidRecord("empty record")
    if len(value) > max_bytes:
        raise InvalidRecord(f"record too large: {len(value)} bytes > limit {max_bytes}")
    try:
        obj = json.loads(value.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise InvalidRecord(f"not UTF-8: {exc.reason} at byte {exc.start}") from exc
    except json.JSONDecodeError as exc:
        raise InvalidRecord(f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    if not isinstance(obj, dict):
        raise InvalidRecord(f"expected a JSON object, got {type(obj).__name__}")
    return obj


def decode_item(value: bytes | None, max_bytes: int) -> NewsItem:
    """Bytes → a validated NewsItem with its deterministic id and tickers.

    Raises:
        InvalidRecord: with the reason that goes into the dead letter.
    """
    obj = _load_object(value, max_bytes)
    obj.pop("schema", None)
    for key in ("url", "guid", "source"):
        if obj.get(key) is not None and not isinstance(obj[key], str):
            raise InvalidRecord(f"invalid record: {key} must be a string, got {type(obj[key]).__name__}")
    url, source, guid = (cast("str | None", obj.get(k)) for k in ("url", "source", "guid"))
    obj["id"] = doc_id(url, source or "", guid)  # never trust a sent id
    try:
        item = NewsItem.model_validate(obj)
    except ValidationError as exc:
        raise InvalidRecord(_validation_reason(exc)) from exc
    if not item.text:
        raise InvalidRecord("empty text: neither title nor body has content")
    if not item.tickers:
        item = item.model_copy(update={"tickers": extract_tickers(f"{item.title} {item.body}")})
    return item


def _parse(raws: Sequence[RawRecord], max_bytes: int) -> tuple[dict[str, tuple[NewsItem, RawRecord]], list[DeadLetter]]:
    """Valid items by id, each with the record it came from (last copy wins), and dead letters."""
    items: dict[str, tuple[NewsItem, RawRecord]] = {}
    dead: list[DeadLetter] = []
    for raw in raws:
        try:
            item = decode_item(raw.value, max_bytes)
        except InvalidRecord as exc:
            dead.append(dead_letter(raw, "parse", str(exc)))
            continue
        items[item.id] = (item, raw)
    return items, dead


def parse_batch(raws: Sequence[RawRecord], max_bytes: int) -> tuple[list[NewsItem], list[DeadLetter]]:
    """Split a batch into valid items (last copy of each id wins) and dead letters."""
    items, dead = _parse(raws, max_bytes)
    return [item for item, _ in items.values()], dead


async def score_items(items: Sequence[NewsItem], classifier: Classifier) -> list[ScoredDoc]:
    """Classify a batch in one call and join predictions to items.

    Raises:
        ServiceUnavailable: the classifier is down; the batch must be retried, not dropped.

    """
    if not items:
        return []
    preds = await classifier.classify([it.text for it in items])
    return [ScoredDoc.from_prediction(it, p) for it, p in zip(items, preds, strict=True)]


async def store_with_retry(store: DocumentStore, docs: Sequence[ScoredDoc], retries: int) -> list[Rejected]:
    """Upsert with exponential backoff; return what the store refused on its own; raise when it stays down.

    Raises:
        ServiceUnavailable: every attempt failed; offsets must not be committed.

    """
    delay = 0.2
    for attempt in range(retries + 1):
        try:
            return await asyncio.to_thread(store.upsert, docs)
        except Exception as exc:
            if attempt == retries:
                raise ServiceUnavailable(f"store write failed after {retries + 1} attempts: {exc}") from exc
            log.warning("store write failed (%s); retry %d/%d in %.1fs", exc, attempt + 1, retries, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
    raise AssertionError("unreachable: the last attempt returns or raises")


async def process_batch(
    raws: Sequence[RawRecord],
    classifier: Classifier,
    store: DocumentStore,
    max_bytes: int,
    retries: int,
    stories: StoryIndex | None = None,
) -> BatchResult:
    """Parse, score, group into stories and durably store one batch; return what to emit downstream.

    A record the classifier or the store rejects on its own goes to the dead letters (stage
    ``score`` or ``store``); an unavailable classifier or store raises, so the batch is retried
    and never lost.
    """
    parsed, dead = _parse(raws, max_bytes)
    items = [item for item, _ in parsed.values()]
    try:
        scored = await score_items(items, classifier)
    except ServiceUnavailable:
        raise
    except FinsentryError as exc:
        log.warning("batch scoring failed (%s); scoring one by one", exc)
        scored, more_dead = await _score_one_by_one(list(parsed.values()), classifier)
        dead += more_dead
    if scored and stories is not None:
        scored = await asyncio.to_thread(stories.assign, scored)
    if scored:
        rejected = {r.doc_id: r.reason for r in await store_with_retry(store, scored, retries)}
        dead += [dead_letter(parsed[i][1], "store", f"refused by the store: {why}") for i, why in rejected.items()]
        scored = [d for d in scored if d.id not in rejected]
    return BatchResult(scored=scored, dead=dead)


async def _score_one_by_one(
    parsed: Sequence[tuple[NewsItem, RawRecord]], classifier: Classifier
) -> tuple[list[ScoredDoc], list[DeadLetter]]:
    scored: list[ScoredDoc] = []
    dead: list[DeadLetter] = []
    for item, raw in parsed:
        try:
            scored += await score_items([item], classifier)
        except ServiceUnavailable:
            raise
        except FinsentryError as exc:
            dead.append(dead_letter(raw, "score", str(exc)))  # the original bytes and position
    return scored, dead
