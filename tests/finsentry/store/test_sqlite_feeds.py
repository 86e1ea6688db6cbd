from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from finsentry.schemas import FeedHealth
from finsentry.store.sqlite_feeds import SqliteFeedHealthStore, SqliteSeenItems
from finsentry.store.sqlitedb import SqliteDatabase

T0 = datetime(2026, 11, 20, tzinfo=UTC)


def test_feed_health_is_durable_and_replaced_by_name(tmp_path: Path) -> None:
    store = SqliteFeedHealthStore(SqliteDatabase(tmp_path / "f.db"))
    store.put_health(FeedHealth(name="b", url="http://b.example/", status="error", last_error="HTTP 500"))
    store.put_health(FeedHealth(name="a", url="http://a.example/", status="never"))
    store.put_health(FeedHealth(name="a", url="http://a.example/", status="ok", items_seen=3, etag='"x"'))
    again = SqliteFeedHealthStore(SqliteDatabase(tmp_path / "f.db"))
    health = again.list_health()
    assert [(h.name, h.status) for h in health] == [("a", "ok"), ("b", "error")]
    assert health[0].etag == '"x"' and health[0].items_seen == 3 and health[1].last_error == "HTTP 500"


def test_seen_items_remember_and_expire(tmp_path: Path) -> None:
    seen = SqliteSeenItems(SqliteDatabase(tmp_path / "f.db"))
    keys = [f"k{i}" for i in range(1200)]  # more than one chunk
    assert seen.unseen(keys) == keys
    seen.remember(keys[:700], T0)
    seen.remember(["k1000"], T0 + timedelta(days=10))
    again = SqliteSeenItems(SqliteDatabase(tmp_path / "f.db"))
    assert again.unseen(keys) == [k for k in keys[700:] if k != "k1000"]
    assert again.expire(T0 + timedelta(days=1)) == 700
    assert again.unseen(["k1", "k1000"]) == ["k1"]
