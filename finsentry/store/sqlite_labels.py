"""Analysts' corrections in SQLite (table ``labels``, migration 20), next to the documents."""

from __future__ import annotations

from datetime import datetime

from finsentry.schemas import Label
from finsentry.store.sqlitedb import SqliteDatabase


class SqliteLabelStore:
    """LabelStore on the shared SQLite database; an add with a known id replaces that label.

    Args:
        db: the database shared by every record kind's SQLite store.

    """

    def __init__(self, db: SqliteDatabase) -> None:
        self.database = db

    def add_label(self, label: Label) -> None:
        """Store one label; committed (synchronous=FULL) when this returns."""
        row = (label.id, label.doc_id, label.created_at.timestamp(), label.model_dump_json(by_alias=True))
        with self.database.lock, self.database.conn as conn:
            conn.execute("INSERT OR REPLACE INTO labels (id, doc_id, created, payload) VALUES (?, ?, ?, ?)", row)

    def labels(self, since: datetime | None = None) -> list[Label]:
        """Labels created at or after ``since``, oldest first (ties by id)."""
        start = since.timestamp() if since else float("-inf")
        with self.database.lock:
            rows = self.database.conn.execute(
                "SELECT payload FROM labels WHERE created >= ? ORDER BY created, id", (start,)
            ).fetchall()
        return [Label.model_validate_json(r[0]) for r in rows]

    def close(self) -> None:
        """Close the shared connection."""
        self.database.close()
