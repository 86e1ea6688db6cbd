"""One store fixture per backend: every contract test runs on SQLite and on an Elasticsearch API."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from finsentry.ids import doc_id
from finsentry.protocols import ManagedStore
from finsentry.schemas import NewsItem, Prediction, ScoredDoc
from finsentry.store.sqlite import SqliteStore

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
BACKENDS = ["sqlite", "elasticsearch"]


def es_url(request: pytest.FixtureRequest) -> str:
    """A real cluster when ``TEST_ES_URL`` is set, else the session's noida-db endpoint."""
    return os.environ.get("TEST_ES_URL") or request.getfixturevalue("search_server").url


def make_es_store(url: str, prefix: str) -> ManagedStore:
    from finsentry.settings import StoreSettings
    from finsentry.store.elasticsearch import ElasticsearchStore
    from finsentry.store.es import make_es_client

    settings = StoreSettings(url=url, index_prefix=prefix, request_timeout_s=10)
    store = ElasticsearchStore(make_es_client(settings), prefix, url=url, retry_seconds=2.0, refresh=True)
    store.ensure()
    return store


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ManagedStore]:
    """An empty store of each backend (an own index prefix per test on the shared server)."""
    if request.param == "sqlite":
        s: ManagedStore = SqliteStore(tmp_path / "docs.db")
        yield s
        s.close()  # type: ignore[attr-defined]
        return
    prefix = f"t{uuid.uuid4().hex[:10]}"
    s = make_es_store(es_url(request), prefix)
    yield s
    s.drop_all()  # type: ignore[attr-defined]
    s.close()  # type: ignore[attr-defined]


@pytest.fixture
def make_doc() -> Callable[..., ScoredDoc]:
    """A scored document; ``n`` decides its id and, by default, its time and scores."""

    def factory(
        n: int,
        title: str = "Acme beats estimates",
        sentiment: str = "positive",
        topic: str = "Earnings",
        minutes: float | None = None,
        source: str = "wire",
        version: str = "v1",
        tickers: list[str] | None = None,
        story: str = "",
        body: str = "",
        published: bool = True,
    ) -> ScoredDoc:
        url = f"https://news.example.com/{n}"
        when = T0 + timedelta(minutes=n if minutes is None else minutes)
        item = NewsItem(
            id=doc_id(url),
            source=source,
            url=url,
            title=title,
            body=body,
            published_at=when if published else None,
            fetched_at=when,
            tickers=["ACME"] if tickers is None else tickers,
        )
        neg = ((n * 37) % 100) / 100.0
        pos = round((1 - neg) * (((n * 11) % 10) / 10.0), 6)
        scores = {"negative": neg, "positive": pos, "neutral": max(0.0, 1 - neg - pos)}
        scores[sentiment] = max(scores[sentiment], 0.0)
        pred = Prediction(
            sentiment=sentiment,
            sentiment_scores=scores,
            topic=topic,
            topic_scores={topic: 0.8},
            model_version=version,
        )
        doc = ScoredDoc.from_prediction(item, pred)
        return doc.model_copy(update={"story_id": story}) if story else doc

    return factory
