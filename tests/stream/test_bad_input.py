"""One record's content never stops a batch: parser and classifier faults become dead letters."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from finsentry.deadletter import KEEP_BYTES, RawRecord
from finsentry.errors import InvalidRecord, ServiceUnavailable
from finsentry.schemas import NewsItem, Prediction
from finsentry.store.sqlite import SqliteStore
from finsentry.topics import MAX_MESSAGE_BYTES
from models.classifiers import BaselineClassifier
from stream import process
from stream.process import CANARY_TEXT, decode_item, parse_batch, process_batch

MAX = 1_048_576
NESTED_ARRAYS = b"[" * 200_000 + b"]" * 200_000
DIGITS = b"1" * MAX  # exactly at the size limit: gets past it, then to the parser
NESTED_OBJECTS = b'{"a":' * 100_000 + b"1" + b"}" * 100_000


def raws(values: Sequence[bytes | None]) -> list[RawRecord]:
    return [RawRecord(v, "news.raw", 0, i) for i, v in enumerate(values)]


@pytest.fixture(scope="module")
def baseline() -> BaselineClassifier:
    return BaselineClassifier()


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (NESTED_ARRAYS, "nested too deeply"),
        (DIGITS, "JSON number too long"),
        (NESTED_OBJECTS, "nested too deeply"),
        (
            b'{"source": "w", "url": "https://x.com/1", "title": "t", "extra": ' + b"[" * 500 + b"]" * 500 + b"}",
            "nested",
        ),
        (b'{"source": "w", "url": "https://x.com/1", "title": "t", "n": ' + b"7" * 5000 + b"}", "number too long"),
    ],
)
def test_hostile_records_are_dead_letters_and_good_ones_around_them_are_stored(
    tmp_path: Path, baseline: BaselineClassifier, news_line: Callable[..., bytes], value: bytes, reason: str
) -> None:
    store = SqliteStore(tmp_path / "d.db")
    batch = raws([news_line(1), value, news_line(2)])
    result = asyncio.run(process_batch(batch, baseline, store, MAX, retries=0))
    assert store.total() == 2
    assert [(d.stage, d.offset) for d in result.dead] == [("parse", 1)]
    assert reason in result.dead[0].reason
    assert result.dead[0].original == value[:KEEP_BYTES]


def test_a_bug_of_ours_in_decoding_is_the_records_dead_letter_not_a_crash(
    monkeypatch: pytest.MonkeyPatch, news_line: Callable[..., bytes]
) -> None:
    def broken(text: str) -> list[str]:
        raise TypeError("unhashable type: 'list'")

    monkeypatch.setattr(process, "extract_tickers", broken)  # fault injection: a bug on one code path
    with pytest.raises(InvalidRecord, match=r"^TypeError: unhashable type: 'list'$"):
        decode_item(news_line(1, title="no cashtag here"), MAX)
    assert decode_item(news_line(2, tickers=["ACME"]), MAX).tickers == ["ACME"]  # other path unaffected


def test_memory_error_while_decoding_is_an_invalid_record(
    monkeypatch: pytest.MonkeyPatch, news_line: Callable[..., bytes]
) -> None:
    def exhausted(value: bytes, max_depth: int) -> object:
        raise MemoryError

    monkeypatch.setattr(process, "loads_json", exhausted)
    with pytest.raises(InvalidRecord, match=r"^MemoryError$"):
        decode_item(news_line(1), MAX)


def _decoded_or_refused(value: bytes) -> None:
    try:
        item = decode_item(value, MAX)
    except InvalidRecord as exc:
        assert str(exc)  # a reason for the dead letter
        return
    assert isinstance(item, NewsItem) and item.text


@settings(deadline=None, max_examples=300)
@given(st.binary(max_size=2000))
def test_decoder_on_arbitrary_bytes_returns_an_item_or_raises_invalid_record(value: bytes) -> None:
    _decoded_or_refused(value)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=20,
)
fields = st.sampled_from(["source", "url", "guid", "title", "body", "published_at", "fetched_at", "tickers", "lang"])


@settings(deadline=None, max_examples=300)
@given(
    st.dictionaries(fields | st.text(max_size=8), json_values, max_size=8),
    st.integers(min_value=0, max_value=3000),
    st.sampled_from([b"[", b'{"k":']),
)
def test_decoder_on_arbitrary_json_and_deep_nesting_returns_an_item_or_raises_invalid_record(
    obj: dict[str, object], depth: int, opener: bytes
) -> None:
    _decoded_or_refused(json.dumps(obj).encode())
    closer = b"]" if opener == b"[" else b"}"
    nested = opener * depth + b"0" + closer * depth
    _decoded_or_refused(json.dumps({**obj, "extra": 0}).encode().replace(b'"extra": 0', b'"extra": ' + nested))
    _decoded_or_refused(nested)


class FaultyClassifier:
    """Fault injection: raises an unexpected error on texts holding ``marker``, or on everything."""

    def __init__(self, inner: BaselineClassifier, marker: str = "poison", broken: bool = False) -> None:
        self.inner, self.marker, self.broken = inner, marker, broken
        self.calls: list[list[str]] = []

    async def classify(self, texts: Sequence[str]) -> list[Prediction]:
        self.calls.append(list(texts))
        if self.broken or any(self.marker in t for t in texts):
            raise ZeroDivisionError("division by zero")
        return await self.inner.classify(texts)

    async def close(self) -> None:
        return None


def test_a_record_that_makes_the_classifier_raise_is_dead_lettered_alone(
    tmp_path: Path, baseline: BaselineClassifier, news_line: Callable[..., bytes]
) -> None:
    store = SqliteStore(tmp_path / "d.db")
    batch = raws([news_line(1), news_line(2, title="poison pill $X"), news_line(3)])
    result = asyncio.run(process_batch(batch, FaultyClassifier(baseline), store, MAX, retries=0))
    assert store.total() == 2 and len(result.scored) == 2
    assert [(d.stage, d.offset) for d in result.dead] == [("score", 1)]
    assert result.dead[0].reason == "classifier raised ZeroDivisionError: division by zero"


def test_a_classifier_failing_on_every_record_alone_is_broken_and_nothing_is_dead_lettered(
    tmp_path: Path, baseline: BaselineClassifier, news_line: Callable[..., bytes]
) -> None:
    store = SqliteStore(tmp_path / "d.db")
    batch = raws([news_line(1), news_line(2), news_line(3)])
    with pytest.raises(ServiceUnavailable, match=r"each of 3 records alone.*ZeroDivisionError"):
        asyncio.run(process_batch(batch, FaultyClassifier(baseline, broken=True), store, MAX, retries=0))
    assert store.total() == 0


def test_a_lone_record_is_blamed_only_when_the_classifier_scores_a_plain_headline(
    tmp_path: Path, baseline: BaselineClassifier, news_line: Callable[..., bytes]
) -> None:
    store = SqliteStore(tmp_path / "d.db")
    poisoned = FaultyClassifier(baseline)
    result = asyncio.run(process_batch(raws([news_line(1, title="poison")]), poisoned, store, MAX, retries=0))
    assert [d.stage for d in result.dead] == ["score"] and poisoned.calls[-1] == [CANARY_TEXT]
    broken = FaultyClassifier(baseline, broken=True)
    with pytest.raises(ServiceUnavailable, match="plain headline too"):
        asyncio.run(process_batch(raws([news_line(2)]), broken, store, MAX, retries=0))
    assert store.total() == 0


def test_parse_failures_do_not_count_as_classifier_failures(
    tmp_path: Path, baseline: BaselineClassifier, news_line: Callable[..., bytes]
) -> None:
    """A batch of one poison-for-the-model record and garbage: the model is judged by the canary."""
    store = SqliteStore(tmp_path / "d.db")
    batch = raws([NESTED_ARRAYS, news_line(1, title="poison"), b"{"])
    result = asyncio.run(process_batch(batch, FaultyClassifier(baseline), store, MAX, retries=0))
    assert sorted((d.stage, d.offset) for d in result.dead) == [("parse", 0), ("parse", 2), ("score", 1)]


def test_a_record_whose_scored_document_is_too_large_to_publish_is_a_dead_letter(
    tmp_path: Path, baseline: BaselineClassifier, news_line: Callable[..., bytes]
) -> None:
    store = SqliteStore(tmp_path / "d.db")
    big = news_line(2, body="x" * (MAX_MESSAGE_BYTES - 200))  # fits the topic; scored, it would not
    assert len(big) < MAX_MESSAGE_BYTES
    result = asyncio.run(process_batch(raws([news_line(1), big]), baseline, store, MAX, retries=0))
    assert store.total() == 1 and all(len(d.to_json_bytes()) <= MAX_MESSAGE_BYTES for d in result.scored)
    assert [(d.stage, d.offset) for d in result.dead] == [("score", 1)]
    assert "too large to publish" in result.dead[0].reason


def test_the_dead_letter_of_a_huge_record_fits_on_the_topic() -> None:
    (dead,) = parse_batch(raws([DIGITS]), MAX)[1]
    assert len(dead.to_json_bytes()) < MAX_MESSAGE_BYTES
    assert dead.original == DIGITS[:KEEP_BYTES]
    assert f"truncated to its first {KEEP_BYTES} of {MAX} bytes" in dead.reason
    assert dead.id != parse_batch(raws([DIGITS[:-1] + b"2"]), MAX)[1][0].id  # the id hashes every byte
