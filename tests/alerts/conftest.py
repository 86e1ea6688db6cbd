"""Factories for alert tests: scored documents and SQLite-backed stores in a temp folder."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from finsentry.schemas import ScoredDoc
from finsentry.store.sqlite import SqliteStore
from finsentry.store.sqlite_alerts import SqliteAlertStore, SqliteDeliveryStore, SqliteSubscriberStore
from finsentry.store.sqlitedb import SqliteDatabase

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # a multiple of every window used here


@pytest.fixture
def make_doc() -> Callable[..., ScoredDoc]:
    counter = iter(range(1_000_000))

    def factory(at: datetime, ticker: str = "ACME", sentiment: str = "negative", **fields: Any) -> ScoredDoc:
        n = next(counter)
        scores = {"negative": 0.1, "neutral": 0.1, "positive": 0.1} | {sentiment: 0.8}
        base: dict[str, Any] = {
            "id": f"doc{n:06d}",
            "source": "wire",
            "url": f"https://news.example.com/{n}",
            "title": f"${ticker} headline {n}",
            "published_at": at,
            "tickers": [ticker],
            "sentiment": sentiment,
            "sentiment_score": 0.8,
            "sentiment_scores": scores,
            "signed_score": scores["positive"] - scores["negative"],
            "topic": "earnings",
            "topic_score": 0.9,
            "model_version": "v-test",
        }
        return ScoredDoc(**(base | fields))

    return factory


class Stores:
    def __init__(self, path: Path) -> None:
        self.db = SqliteDatabase(path)
        self.docs = SqliteStore(self.db)
        self.alerts = SqliteAlertStore(self.db)
        self.subscribers = SqliteSubscriberStore(self.db)
        self.deliveries = SqliteDeliveryStore(self.db)


@pytest.fixture
def stores(tmp_path: Path) -> Stores:
    return Stores(tmp_path / "alerts.db")
