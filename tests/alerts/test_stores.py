"""Both backends of the alert part's stores answer alike (SQLite file, noida-db's Elasticsearch API)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from finsentry.app.factory import AlertStores, make_alert_stores
from finsentry.schemas import Alert, Delivery, DeliveryAttempt, Subscriber
from finsentry.settings import Settings
from finsentry.store.sqlitedb import SqliteDatabase
from tests.conftest import EmbeddedSearch

T = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "elasticsearch"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AlertStores]:
    if request.param == "sqlite":
        yield make_alert_stores(Settings(home=tmp_path, store={"url": f"sqlite:///{tmp_path}/a.db"}))  # type: ignore[arg-type]
        return
    search: EmbeddedSearch = request.getfixturevalue("search_server")
    prefix = f"t{uuid.uuid4().hex[:10]}"
    yield make_alert_stores(Settings(home=tmp_path, store={"url": search.url, "index_prefix": prefix}))  # type: ignore[arg-type]


def _alert(i: int, **kw: Any) -> Alert:
    base: dict[str, Any] = {"id": f"a{i}", "rule": "neg", "key": f"K{i}", "window_start": T, "window_end": T,
                            "count": i, "doc_ids": [f"d{i}"], "updated_at": T + timedelta(minutes=i)}  # fmt: skip
    return Alert(**(base | kw))


def test_alerts_upsert_by_id_and_list_newest_first_by_state(backend: AlertStores) -> None:
    store = backend.alerts
    for i in range(4):
        store.put_alert(_alert(i, state="firing" if i % 2 else "resolved"))
    store.put_alert(_alert(1, count=99, updated_at=T + timedelta(hours=1)))
    got = store.get_alert("a1")
    assert got is not None and got.count == 99 and store.get_alert("nope") is None
    assert [a.id for a in store.list_alerts()] == ["a1", "a3", "a2", "a0"]
    assert [a.id for a in store.list_alerts(state="firing")] == ["a1", "a3"]
    assert [a.id for a in store.list_alerts(since=T + timedelta(minutes=2), limit=2)] == ["a1", "a3"]


def test_subscribers_put_list_remove(backend: AlertStores) -> None:
    store = backend.subscribers
    subs = [
        Subscriber(
            id=f"s{i}", url=f"https://h{i}.example.com", secrets=["whsec_x"], created_at=T + timedelta(seconds=i)
        )
        for i in range(3)
    ]
    for s in subs:
        store.put_subscriber(s)
    store.put_subscriber(subs[0].model_copy(update={"active": False}))
    assert [(s.id, s.active) for s in store.list_subscribers()] == [("s0", False), ("s1", True), ("s2", True)]
    assert store.remove_subscriber("s1") and not store.remove_subscriber("s1")
    assert [s.id for s in store.list_subscribers()] == ["s0", "s2"]


def test_deliveries_keep_every_attempt(backend: AlertStores) -> None:
    store = backend.deliveries
    for i in range(3):
        at = T + timedelta(seconds=i)
        store.put_delivery(
            Delivery(id=f"m{i}", subscriber_id="s", event="alert.firing", alert_ids=[], payload="", created_at=at)
        )
    d = store.get_delivery("m1")
    assert d is not None
    attempts = [DeliveryAttempt(at=T, status_code=500, latency_ms=3.5), DeliveryAttempt(at=T, status_code=200)]
    store.put_delivery(d.model_copy(update={"attempts": attempts, "status": "delivered"}))
    got = store.get_delivery("m1")
    assert got is not None and [a.status_code for a in got.attempts] == [500, 200]
    assert [x.id for x in store.list_deliveries()] == ["m2", "m1", "m0"]
    assert [x.id for x in store.list_deliveries(status="pending")] == ["m2", "m0"]


def test_sqlite_migration_10_upgrades_an_existing_file(tmp_path: Path) -> None:
    db = SqliteDatabase(tmp_path / "x.db")
    assert 10 not in db.migrate()  # applied at open
    tables = {r[0] for r in db.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"alerts", "subscribers", "deliveries"} <= tables
