"""Corrections in SQLite and their export as a label file that training accepts."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from typer.testing import CliRunner

from finsentry.app.cli import app
from finsentry.app.cli_dashboard import export_rows
from finsentry.schemas import Label
from finsentry.settings import Settings
from finsentry.store.sqlite import SqliteStore
from finsentry.store.sqlite_labels import SqliteLabelStore
from finsentry.store.sqlitedb import SqliteDatabase
from models.dataset import IGNORE, load_label_file
from models.labels import SENTIMENTS, TOPICS
from tests.dashboard.conftest import NOW


def label(n: int, doc: str | None, minutes: int, **extra: object) -> Label:
    fields: dict[str, object] = {
        "id": f"l{n}",
        "doc_id": doc,
        "text": f"text of {doc}",
        "created_at": NOW + timedelta(minutes=minutes),
    }
    fields.update(extra)
    return Label(**fields)  # type: ignore[arg-type]


def test_labels_are_durable_and_ordered(tmp_path: Path) -> None:
    db = SqliteDatabase(tmp_path / "f.db")
    store = SqliteLabelStore(db)
    store.add_label(label(2, "d1", 5, sentiment="negative"))
    store.add_label(label(1, "d1", 1, sentiment="positive"))
    store.add_label(label(3, "d2", 3, topic="Macro"))
    store.add_label(label(3, "d2", 3, topic="Macro"))  # a retried write replaces, never duplicates
    db.close()
    reopened = SqliteLabelStore(SqliteDatabase(tmp_path / "f.db"))
    assert [lab.id for lab in reopened.labels()] == ["l1", "l3", "l2"]
    assert [lab.id for lab in reopened.labels(since=NOW + timedelta(minutes=3))] == ["l3", "l2"]
    reopened.close()


def test_labels_table_upgrades_a_documents_only_database(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, at REAL)")
    conn.commit()
    conn.close()
    db = SqliteDatabase(path)  # applies 1 and 20 in place
    assert {r[0] for r in db.conn.execute("SELECT version FROM schema_migrations")} >= {1, 20}
    SqliteLabelStore(db).add_label(label(1, "d", 0, sentiment="neutral"))
    assert len(SqliteLabelStore(db).labels()) == 1
    db.close()


def test_latest_correction_of_a_document_wins() -> None:
    rows = export_rows(
        [
            label(3, "d1", 9, sentiment="negative", topic="Macro"),
            label(1, "d1", 1, sentiment="positive"),
            label(2, "d2", 5, topic="Macro"),
            label(4, None, 2, text="from a file", sentiment="neutral"),
            label(5, None, 3, text="from a file", sentiment="positive"),
        ]
    )
    assert rows == [
        {"text": "from a file", "sentiment": "positive"},
        {"text": "text of d2", "topic": "Macro"},
        {"text": "text of d1", "sentiment": "negative", "topic": "Macro"},
    ]


def test_cli_export_writes_a_file_training_loads(tmp_path: Path, make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    db = SqliteDatabase(Path(settings.store.url.removeprefix("sqlite:///")))
    SqliteStore(db)  # the documents' schema too, as the worker leaves it
    store = SqliteLabelStore(db)
    odd = 'Rates "hold"; $BANK\u2019s \\ view\n'
    store.add_label(label(1, "d1", 0, text=odd, sentiment=SENTIMENTS[0], topic=TOPICS[3]))
    store.add_label(label(2, "d1", 1, text=odd, sentiment=SENTIMENTS[2], topic=TOPICS[3]))
    store.add_label(label(3, "d2", 2, text="only a topic", topic=TOPICS[0]))
    db.close()
    out = tmp_path / "labels.jsonl"
    env = {"FINSENTRY_HOME": str(settings.home), "FINSENTRY_STORE__URL": settings.store.url}
    result = CliRunner().invoke(app, ["labels", "export", str(out)], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"file": str(out), "labels": 2}
    examples = load_label_file(out)
    assert [(e.text, e.sentiment, e.topic) for e in examples] == [
        (odd, 2, 3),
        ("only a topic", IGNORE, 0),
    ]
