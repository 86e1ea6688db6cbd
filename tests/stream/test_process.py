from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from finsentry.deadletter import KEEP_BYTES, RawRecord
from finsentry.errors import ModelError, ServiceUnavailable
from finsentry.protocols import Rejected
from finsentry.schemas import Prediction, ScoredDoc
from finsentry.store.sqlite import SqliteStore
from models.classifiers import BaselineClassifier
from stream.process import decode_item, parse_batch, process_batch

MAX = 1_048_576


@pytest.fixture(scope="module")
def baseline() -> BaselineClassifier:
    return BaselineClassifier()


def raws(values: Sequence[bytes | None]) -> list[RawRecord]:
    return [RawRecord(v, "news.raw", 0, i) for i, v in enumerate(values)]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "empty record"),
        (b"", "empty record"),
        (b"{not json", "malformed JSON"),
        (b'\xff\xfe{"title": "x"}', "not UTF-8"),
        (b"[1, 2]", "expected a JSON object"),
        (b'{"source": "w", "url": "https://x.com/1", "title": "   "}', "empty text"),
        (b'{"source": "w", "title": "no id"}', "neither url nor guid"),
        (b'{"source": "w", "url": "ftp://x.com/1", "title": "t"}', "URL"),
        (b'{"source": "", "url": "https://x.com/1", "title": "t"}', "invalid record: source"),
        (b'{"source": "w", "url": "https://x.com/1", "title": "t", "published_at": "yesterday"}', "published_at"),
        (b"x" * (MAX + 1), "record too large"),
    ],
)
def test_bad_records_become_dead_letters_with_a_reason(value: bytes | None, reason: str) -> None:
    items, dead = parse_batch(raws([value]), MAX)
    assert items == []
    assert len(dead) == 1
    assert reason in dead[0].reason
    assert dead[0].original == (value or b"")[:KEEP_BYTES]  # a huge one keeps its head only
    assert (dead[0].source_topic, dead[0].partition, dead[0].offset) == ("news.raw", 0, 0)


def test_hostile_html_is_kept_as_text_not_executed(news_line: Callable[..., bytes]) -> None:
    item = decode_item(news_line(title="<script>alert(1)</script> $EVIL &amp; co"), MAX)
    assert item.title.startswith("<script>")
    assert item.tickers == ["EVIL"]


def test_duplicates_in_a_batch_collapse_and_sent_ids_are_ignored(news_line: Callable[..., bytes]) -> None:
    items, dead = parse_batch(raws([news_line(1, id="forged"), news_line(1), news_line(2)]), MAX)
    assert dead == []
    assert len(items) == 2
    assert "forged" not in {i.id for i in items}


@given(st.binary(max_size=300))
def test_parser_never_raises_on_arbitrary_bytes(value: bytes) -> None:
    items, dead = parse_batch(raws([value]), MAX)
    assert len(items) + len(dead) == 1


@given(
    st.dictionaries(
        st.sampled_from(["source", "url", "guid", "title", "body", "published_at", "tickers"]),
        st.one_of(st.none(), st.text(max_size=30), st.integers(), st.lists(st.text(max_size=5))),
    )
)
def test_parser_never_raises_on_arbitrary_objects(obj: dict[str, object]) -> None:
    items, dead = parse_batch(raws([json.dumps(obj).encode()]), MAX)
    assert len(items) + len(dead) == 1


class FlakyStore(SqliteStore):
    """Fault injection: the first ``failures`` writes raise, as a store that is briefly down."""

    def __init__(self, path: Path, failures: int) -> None:
        super().__init__(path)
        self.failures = failures

    def upsert(self, docs: Sequence[ScoredDoc]) -> list[Rejected]:
        if self.failures > 0:
            self.failures -= 1
            raise OSError("disk unavailable")
        return super().upsert(docs)


def test_store_outage_is_retried_then_succeeds(
    tmp_path: Path, baseline: BaselineClassifier, news_line: Callable[..., bytes]
) -> None:
    store = FlakyStore(tmp_path / "d.db", failures=2)
    result = asyncio.run(process_batch(raws([news_line(1), news_line(2)]), baseline, store, MAX, retries=3))
    assert len(result.scored) == 2
    assert store.total() == 2


def test_store_down_for_good_raises_so_offsets_are_not_committed(
    tmp_path: Path, baseline: BaselineClassifier, news_line: Callable[..., bytes]
) -> None:
    store = FlakyStore(tmp_path / "d.db", failures=10)
    with pytest.raises(ServiceUnavailable, match="store write failed"):
        asyncio.run(process_batch(raws([news_line(1)]), baseline, store, MAX, retries=1))


class PickyClassifier:
    """Fault injection: refuses texts containing 'poison', as a model that chokes on one input."""

    version = "picky"

    def __init__(self, down: bool = False) -> None:
        self.down = down

    async def classify(self, texts: Sequence[str]) -> list[Prediction]:
        if self.down:
            raise ServiceUnavailable("model server down")
        if any("poison" in t for t in texts):
            raise ModelError("cannot score poison")
        return [
            Prediction(
                sentiment="neutral",
                sentiment_scores={"neutral": 1.0},
                topic="Markets",
                topic_scores={"Markets": 1.0},
                model_version=self.version,
            )
            for _ in texts
        ]

    async def close(self) -> None:
        return None


def test_one_unscorable_record_is_dead_lettered_and_the_rest_stored(
    tmp_path: Path, news_line: Callable[..., bytes]
) -> None:
    store = SqliteStore(tmp_path / "d.db")
    batch = raws([news_line(1), news_line(2, title="poison pill"), news_line(3)])
    result = asyncio.run(process_batch(batch, PickyClassifier(), store, MAX, retries=0))
    assert store.total() == 2
    assert [d.stage for d in result.dead] == ["score"]
    assert "poison" in result.dead[0].reason
    assert result.dead[0].original == batch[1].value and result.dead[0].offset == 1


def test_classifier_down_raises_and_stores_nothing(tmp_path: Path, news_line: Callable[..., bytes]) -> None:
    store = SqliteStore(tmp_path / "d.db")
    with pytest.raises(ServiceUnavailable):
        asyncio.run(process_batch(raws([news_line(1)]), PickyClassifier(down=True), store, MAX, retries=0))
    assert store.total() == 0
