"""Plain functions the worker calls: parse raw bytes, score, store. No Kafka in here."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar, cast

from pydantic import ValidationError

from finsentry import metrics
from finsentry.deadletter import RawRecord, dead_letter
from finsentry.errors import FinsentryError, InvalidRecord, ServiceUnavailable
from finsentry.guard import describe, guarded, loads_json
from finsentry.ids import doc_id
from finsentry.protocols import Classifier, DocumentStore, Rejected, StoryIndex
from finsentry.schemas import DeadLetter, NewsItem, ScoredDoc, extract_tickers
from finsentry.topics import MAX_MESSAGE_BYTES

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_RECORD_DEPTH = 16  # a news record is an object with a list of tickers; extra fields get room to spare
CANARY_TEXT = "Shares were little changed in quiet trading"  # any working model scores this headline


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
    obj = loads_json(value, MAX_RECORD_DEPTH)
    if not isinstance(obj, dict):
        raise InvalidRecord(f"expected a JSON object, got {type(obj).__name__}")
    return obj


def decode_item(value: bytes | None, max_bytes: int) -> NewsItem:
    """Bytes → a validated NewsItem with its deterministic id and tickers.

    Whatever goes wrong inside (deep nesting, a huge number, ``MemoryError``, a bug of ours)
    surfaces as ``InvalidRecord`` with the exception's type and message: a record's content
    can make it a dead letter, never stop the worker.

    Raises:
        InvalidRecord: with the reason that goes into the dead letter; nothing else.
    """
    return guarded(lambda v: _decode_item(v, max_bytes), value)


def _decode_item(value: bytes | None, max_bytes: int) -> NewsItem:
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
    with metrics.MODEL_SECONDS.time():
        preds = await classifier.classify([it.text for it in items])
    if preds:
        metrics.MODEL_VERSION.clear()
        metrics.MODEL_VERSION.labels(version=preds[-1].model_version).set(1)
    return [ScoredDoc.from_prediction(it, p) for it, p in zip(items, preds, strict=True)]


async def store_with_retry(store: DocumentStore, docs: Sequence[ScoredDoc], retries: int) -> list[Rejected]:
    """Upsert with exponential backoff; return what the store refused on its own; raise when it stays down.

    Raises:
        ServiceUnavailable: every attempt failed; offsets must not be committed.

    """
    with metrics.STORE_WRITE_SECONDS.time():
        return await _with_retry(lambda: store.upsert(docs), "store write", retries)


async def _with_retry(call: Callable[[], T], what: str, retries: int) -> T:
    """Run a blocking call on a thread with exponential backoff; any failure left is an outage."""
    delay = 0.2
    for attempt in range(retries + 1):
        try:
            return await asyncio.to_thread(call)
        except Exception as exc:
            if attempt == retries:
                raise ServiceUnavailable(f"{what} failed after {retries + 1} attempts: {exc}") from exc
            log.warning("%s failed (%s); retry %d/%d in %.1fs", what, exc, attempt + 1, retries, delay)
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

    A record that cannot be parsed (for any reason, stage ``parse``), or that the classifier
    refuses or raises on when scored alone (stage ``score``), or that the store rejects on its
    own (stage ``store``) becomes a dead letter and the rest of the batch goes on. What is not
    one record's fault raises ``ServiceUnavailable``, so the batch is retried and never lost: the
    classifier, story index or store is down, or the classifier fails on every record of a
    batch alone (or, for a lone record, on a plain headline too).
    """
    parsed, dead = _parse(raws, max_bytes)
    scored, more_dead = await _score(list(parsed.values()), classifier)
    dead += more_dead
    oversize = {d.id: n for d in scored if (n := len(d.to_json_bytes())) > MAX_MESSAGE_BYTES}
    if oversize:  # it could be stored but never published, and a failed send stops the worker
        reason = "scored document too large to publish: {} bytes > limit " + str(MAX_MESSAGE_BYTES)
        dead += [dead_letter(parsed[i][1], "score", reason.format(n)) for i, n in oversize.items()]
        scored = [d for d in scored if d.id not in oversize]
    if scored and stories is not None:
        index = stories
        scored = await _with_retry(lambda: index.assign(scored), "story grouping", retries)
    if scored:
        rejected = {r.doc_id: r.reason for r in await store_with_retry(store, scored, retries)}
        dead += [dead_letter(parsed[i][1], "store", f"refused by the store: {why}") for i, why in rejected.items()]
        scored = [d for d in scored if d.id not in rejected]
    return BatchResult(scored=scored, dead=dead)


Parsed = Sequence[tuple[NewsItem, RawRecord]]


async def _score(parsed: Parsed, classifier: Classifier) -> tuple[list[ScoredDoc], list[DeadLetter]]:
    try:
        return await score_items([item for item, _ in parsed], classifier), []
    except ServiceUnavailable:
        raise
    except Exception as exc:  # noqa: BLE001 - a refusal or a crash on some input: find the record
        log.warning("batch scoring failed (%s); scoring one by one", describe(exc))
    return await _score_one_by_one(parsed, classifier)


async def _score_one_by_one(parsed: Parsed, classifier: Classifier) -> tuple[list[ScoredDoc], list[DeadLetter]]:
    scored: list[ScoredDoc] = []
    dead: list[DeadLetter] = []
    unexpected: list[tuple[RawRecord, Exception]] = []
    for item, raw in parsed:
        try:
            scored += await score_items([item], classifier)
        except ServiceUnavailable:
            raise
        except FinsentryError as exc:  # refused on purpose, e.g. ModelError
            dead.append(dead_letter(raw, "score", str(exc)))  # the original bytes and position
        except Exception as exc:  # noqa: BLE001 - judged below: this record's fault or the classifier's
            unexpected.append((raw, exc))
    if unexpected and len(unexpected) == len(parsed):
        await _check_classifier(classifier, [exc for _, exc in unexpected])
    dead += [dead_letter(raw, "score", f"classifier raised {describe(exc)}") for raw, exc in unexpected]
    return scored, dead


async def _check_classifier(classifier: Classifier, failures: Sequence[Exception]) -> None:
    """Every record raised alone: blame the classifier, unless it scores a plain headline.

    Raises:
        ServiceUnavailable: several records each failed alone, or a lone one did and the
            canary headline fails too: a broken classifier, not bad records.
    """
    last = failures[-1]
    if len(failures) > 1:
        raise ServiceUnavailable(
            f"classifier raised on each of {len(failures)} records alone (last: {describe(last)}): taken as broken"
        ) from last
    try:
        await classifier.classify([CANARY_TEXT])
    except Exception as exc:
        raise ServiceUnavailable(
            f"classifier raised on a plain headline too ({describe(exc)}): taken as broken"
        ) from exc
