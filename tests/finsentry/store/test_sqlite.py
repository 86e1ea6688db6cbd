from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from finsentry.ids import doc_id
from finsentry.protocols import SearchQuery
from finsentry.schemas import NewsItem, Prediction, ScoredDoc
from finsentry.store.sqlite import SqliteStore

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    return SqliteStore(tmp_path / "s" / "docs.db")


@pytest.fixture
def make_doc() -> Callable[..., ScoredDoc]:
    def factory(
        n: int,
        title: str = "Acme beats estimates",
        sentiment: str = "positive",
        topic: str = "Earnings",
        minutes: int = 0,
        source: str = "wire",
        version: str = "v1",
    ) -> ScoredDoc:
        url = f"https://news.example.com/{n}"
        item = NewsItem(
            id=doc_id(url),
            source=source,
            url=url,
            title=title,
            published_at=T0 + timedelta(minutes=minutes),
            tickers=["ACME"] if "Acme" in title else [],
        )
        pred = Prediction(
            sentiment=sentiment,
            sentiment_scores={sentiment: 0.9},
            topic=topic,
            topic_scores={topic: 0.8},
            model_version=version,
        )
        return ScoredDoc.from_prediction(item, pred)

    return factory


def test_upsert_is_idempotent_and_last_write_wins(store: SqliteStore, make_doc: Callable[..., ScoredDoc]) -> None:
    store.upsert([make_doc(1), make_doc(2)])
    store.upsert([make_doc(1, version="v2"), make_doc(2)])
    assert store.total() == 2
    got = store.get(make_doc(1).id)
    assert got is not None and got.model_version == "v2"
    assert store.get("missing") is None


def test_search_filters(store: SqliteStore, make_doc: Callable[..., ScoredDoc]) -> None:
    store.upsert(
        [
            make_doc(1, "Acme beats estimates", "positive", "Earnings", 0),
            make_doc(2, "Oil slumps on demand fears", "negative", "Energy | Oil", 10, source="other"),
            make_doc(3, "Acme recalls product", "negative", "Company | Product News", 20),
        ]
    )
    assert next(d.title for d in store.search(SearchQuery())) == "Acme recalls product"  # newest first
    assert {d.title for d in store.search(SearchQuery(sentiment="negative"))} == {
        "Oil slumps on demand fears",
        "Acme recalls product",
    }
    assert [d.title for d in store.search(SearchQuery(text="oil demand"))] == ["Oil slumps on demand fears"]
    assert len(store.search(SearchQuery(ticker="$acme"))) == 2
    assert [d.topic for d in store.search(SearchQuery(topic="Earnings"))] == ["Earnings"]
    assert len(store.search(SearchQuery(source="other"))) == 1
    assert len(store.search(SearchQuery(since=T0 + timedelta(minutes=5)))) == 2
    assert len(store.search(SearchQuery(until=T0 + timedelta(minutes=5)))) == 1
    assert len(store.search(SearchQuery(limit=1))) == 1


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=40))
def test_any_user_text_query_is_safe(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    store = SqliteStore(tmp_path_factory.mktemp("fts") / "d.db")
    store.search(SearchQuery(text=text))  # FTS syntax in user input must never raise


def test_updates_keep_full_text_index_in_step(store: SqliteStore, make_doc: Callable[..., ScoredDoc]) -> None:
    store.upsert([make_doc(1, "Acme beats estimates")])
    store.upsert([make_doc(1, "Acme misses estimates")])
    assert store.search(SearchQuery(text="beats")) == []
    assert len(store.search(SearchQuery(text="misses"))) == 1


def test_counts_per_bucket_topic_sentiment(store: SqliteStore, make_doc: Callable[..., ScoredDoc]) -> None:
    store.upsert(
        [make_doc(i, sentiment="negative", minutes=i) for i in range(5)]
        + [make_doc(10 + i, sentiment="positive", minutes=70 + i) for i in range(3)]
    )
    rows = store.counts(bucket_seconds=3600)
    assert [(r.bucket.hour, r.sentiment, r.count) for r in rows] == [(12, "negative", 5), (13, "positive", 3)]
    assert sum(r.count for r in store.counts(3600, since=T0 + timedelta(minutes=60))) == 3


def test_v1_database_upgrades_in_place(tmp_path: Path, make_doc: Callable[..., ScoredDoc]) -> None:
    import json
    import sqlite3

    from finsentry.protocols import TrendQuery
    from finsentry.store.migrations import MIGRATIONS

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.executescript(MIGRATIONS[1])
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, at REAL)")
    conn.execute("INSERT INTO schema_migrations VALUES (1, 0)")
    docs = [make_doc(1, "Acme shares falling"), make_doc(2, "Acme oil rallies", sentiment="negative", minutes=5)]
    for d in docs:  # written exactly as the v1 store wrote them
        payload = json.loads(d.model_dump_json(by_alias=True))
        if d.id == docs[1].id:  # a v1 payload from before story ids and signed scores existed
            payload.pop("story_id")
            payload.pop("signed_score")
        conn.execute(
            "INSERT INTO docs VALUES (?,?,?,?,?,?,?,?,?,?)",
            (d.id, d.source, d.title, d.body, d.event_time.timestamp(), d.sentiment, d.topic, d.model_version,
             json.dumps(d.tickers), json.dumps(payload)),
        )  # fmt: skip
    conn.commit()
    conn.close()
    store = SqliteStore(path)
    assert [d.id for d in store.search(SearchQuery(text="falls"))] == [docs[0].id]
    assert [d.id for d in store.search(SearchQuery(story_id=docs[1].id))] == [docs[1].id]
    rows = store.trend(TrendQuery(bucket_seconds=3600, dimension="ticker"))
    assert [(r.key, r.count, r.negative) for r in rows] == [("ACME", 2, 1)]
    assert abs(rows[0].mean_score - docs[0].signed_score / 2) < 1e-12  # v1 doc without a score: 0
    store.upsert([make_doc(3, "Acme again", minutes=2)])
    assert store.total() == 3 and len(store.search(SearchQuery(ticker="ACME"))) == 3


def test_ensure_recreates_a_dropped_documents_table(tmp_path: Path, make_doc: Callable[..., ScoredDoc]) -> None:
    import sqlite3

    SqliteStore(tmp_path / "d.db").upsert([make_doc(1, "Acme falling")])
    conn = sqlite3.connect(tmp_path / "d.db")
    conn.execute("DROP TABLE docs")
    conn.commit()
    conn.close()
    store = SqliteStore(tmp_path / "d.db")
    store.ensure()
    store.ensure()  # idempotent
    store.upsert([make_doc(1, "Acme falling"), make_doc(2, "Acme rallies", minutes=1)])
    assert [d.title for d in store.search(SearchQuery(text="falls", ticker="ACME"))] == ["Acme falling"]
    assert store.total() == 2
