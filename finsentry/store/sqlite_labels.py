"""SQLite label store: analysts' corrections and imported labels (schema: migration 20)."""

from __future__ import annotations

from datetime import datetime

from finsentry.schemas import Label
from finsentry.store.sqlitedb import SqliteDatabase

_PUT = """
INSERT INTO labels (id, doc_id, created, payload) VALUES (?, ?, ?, ?)
ON CONFLICT(id) DO UPDATE SET doc_id=excluded.doc_id, created=excluded.created, payload=excluded.payload
"""


class SqliteLabelStore:
    """Labels in the shared SQLite file; ``add_label`` is an idempotent upsert by label id.

    Args:
        db: the shared database (its migrations create the ``labels`` table).

    """

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    def add_label(self, label: Label) -> None:
        """Store one label; durable when this returns."""
        row = (label.id, label.doc_id, label.created_at.timestamp(), label.model_dump_json(by_alias=True))
        with self._db.lock, self._db.conn:
            self._db.conn.execute(_PUT, row)

    def labels(self, since: datetime | None = None) -> list[Label]:
        """Labels created at or after ``since``, oldest first (ties by id)."""
        start = since.timestamp() if since else float("-inf")
        with self._db.lock:
            rows = self._db.conn.execute(
                "SELECT payload FROM labels WHERE created >= ? ORDER BY created, id", (start,)
            ).fetchall()
        return [Label.model_validate_json(r[0]) for r in rows]
