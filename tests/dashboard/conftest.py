"""Seeded stores for the dashboard's pages: known documents, a story with copies, hostile text."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from dashboard.backends import Backends
from finsentry.protocols import AlertStore
from finsentry.schemas import Alert, AlertState, ScoredDoc
from finsentry.settings import DashboardSettings
from finsentry.store.sqlite import SqliteStore
from finsentry.store.sqlite_alerts import SqliteAlertStore
from finsentry.store.sqlite_labels import SqliteLabelStore
from finsentry.store.sqlitedb import SqliteDatabase
from models.labels import TOPICS as MODEL_TOPICS

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
TOPICS = ("Company | Product News", "Macro", "Stock Movement")
SENTIMENTS = ("negative", "neutral", "positive")
HOSTILE_TITLE = (
    '<script>alert("x")</script> **bold** [click](http://evil.example) ![img](http://evil.example/i.png)'
    " $x^2$ :red[red]"
)


def make_doc(n: int, when: datetime, sentiment: str = "neutral", topic: str = "Macro", **extra: Any) -> ScoredDoc:
    probs = {"negative": 0.1, "neutral": 0.1, "positive": 0.1, sentiment: 0.8}
    fields: dict[str, Any] = {
        "id": f"doc{n:06d}",
        "source": "wire-a" if n % 2 else "wire-b",
        "url": f"https://news.example.com/{n}",
        "title": f"$ACME headline number {n}",
        "published_at": when,
        "fetched_at": when,
        "tickers": ["ACME"],
        "sentiment": sentiment,
        "sentiment_score": 0.8,
        "sentiment_scores": probs,
        "topic": topic,
        "topic_score": 0.9,
        "topic_scores": {topic: 0.9},
        "signed_score": probs["positive"] - probs["negative"],
        "model_version": "v-test-1",
        "scored_at": when + timedelta(seconds=2),
    }
    fields.update(extra)
    return ScoredDoc(**fields)


def seed_docs() -> list[ScoredDoc]:
    """30 documents over the last hour: 12 negative, 6 positive, 12 neutral; one story with 3 copies."""
    docs = []
    for n in range(30):
        sentiment = "negative" if n % 5 in (0, 1) else "positive" if n % 5 == 2 else "neutral"
        docs.append(make_doc(n, NOW - timedelta(minutes=59 - 2 * n), sentiment, TOPICS[n % 3]))
    story = [
        make_doc(100 + i, NOW - timedelta(minutes=30 - i), "negative", "Macro", story_id="doc000100",
                 title=f"Central bank surprises markets (copy {i})", source=f"syndicate-{i}", tickers=["BANK"])
        for i in range(3)
    ]  # fmt: skip
    return docs + story


def lively_docs(n: int = 900, seed: int = 3) -> list[ScoredDoc]:
    """Documents over the three hours before the seeded ones, on every topic and eight tickers.

    Sentiment on $BANK turns negative in the last hour (a mover against its own baseline).
    """
    rng = random.Random(seed)
    tickers = ["BANK", "ACME", "OILX", "CHIP", "SHIP", "BIOT", "RETL", "AUTO"]
    out = []
    for i in range(n):
        when = NOW - timedelta(minutes=60 + 180 * i / n)
        ticker = rng.choice(tickers)
        late = when > NOW - timedelta(minutes=120)
        weights = (6, 2, 1) if ticker == "BANK" and late else (1, 2, 2)
        sentiment = rng.choices(SENTIMENTS, weights)[0]
        topic = rng.choice(MODEL_TOPICS)
        title = f"${ticker} {topic.split('|')[0].strip().lower()} update {i}"
        out.append(make_doc(1000 + i, when, sentiment, topic, tickers=[ticker], title=title, source=f"wire-{i % 4}"))
    return out


def put_alerts(b: Backends, *alerts: Alert) -> None:
    """Store alerts through the backends' (real) alert store."""
    assert b.alerts is not None
    for a in alerts:
        b.alerts.put_alert(a)


def make_alert(alert_id: str, key: str, doc_ids: Sequence[str], state: AlertState = "firing", **extra: Any) -> Alert:
    fields: dict[str, Any] = {
        "id": alert_id,
        "rule": "negative-burst",
        "key": key,
        "severity": "high",
        "state": state,
        "window_start": NOW - timedelta(minutes=15),
        "window_end": NOW,
        "count": len(doc_ids),
        "baseline": 0.5,
        "statistic": "poisson",
        "score": 7.25,
        "threshold": 5.0,
        "doc_ids": list(doc_ids),
        "model_version": "v-test-1",
        "created_at": NOW + timedelta(seconds=3),
        "updated_at": NOW + timedelta(seconds=3),
    }
    fields.update(extra)
    return Alert(**fields)


@pytest.fixture
def database(tmp_path: Path) -> Iterator[SqliteDatabase]:
    db = SqliteDatabase(tmp_path / "finsentry.db")
    yield db
    db.close()


@pytest.fixture
def make_backends(database: SqliteDatabase) -> Callable[..., Backends]:
    """Backends on one real SQLite file; ``docs`` are upserted first."""

    def factory(docs: Sequence[ScoredDoc] = (), alerts: AlertStore | bool | None = True, **extra: Any) -> Backends:
        store = SqliteStore(database)
        if docs:
            store.upsert(docs)
        fields: dict[str, Any] = {
            "docs": store,
            "labels": SqliteLabelStore(database),
            "alerts": SqliteAlertStore(database) if alerts is True else alerts or None,
            "sentiments": SENTIMENTS,
            "topics": TOPICS,
            "local_user": "tester",
            "clock": lambda: NOW + timedelta(minutes=1),
            "settings": DashboardSettings(refresh_s=3600),
        }
        fields.update(extra)
        return Backends(**fields)

    return factory
