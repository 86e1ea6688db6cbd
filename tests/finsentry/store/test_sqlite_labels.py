from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from finsentry.schemas import Label
from finsentry.store.sqlite_labels import SqliteLabelStore
from finsentry.store.sqlitedb import SqliteDatabase

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def test_labels_are_upserted_by_id_and_read_oldest_first_from_a_time(tmp_path: Path) -> None:
    db = SqliteDatabase(tmp_path / "f.db")
    store = SqliteLabelStore(db)
    for i, minutes in enumerate([30, 0, 10]):
        store.add_label(
            Label(id=f"l{i}", text=f"headline {i}", sentiment="negative", created_at=T0 + timedelta(minutes=minutes))
        )
    store.add_label(Label(id="l1", text="headline 1", topic="Earnings", created_at=T0))  # replaces l1
    assert [x.id for x in store.labels()] == ["l1", "l2", "l0"]
    assert store.labels()[0].topic == "Earnings" and store.labels()[0].sentiment is None
    assert [x.id for x in store.labels(since=T0 + timedelta(minutes=10))] == ["l2", "l0"]
    db.close()
    reopened = SqliteDatabase(tmp_path / "f.db")  # durable, and the migration is not applied twice
    assert reopened.migrate() == []
    assert len(SqliteLabelStore(reopened).labels()) == 3
