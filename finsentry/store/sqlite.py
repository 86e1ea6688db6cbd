"""SQLite document store: WAL for concurrent readers, FTS5 for text search."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from finsentry.protocols import BucketCount, SearchQuery
from finsentry.schemas import ScoredDoc

_SCHEMA = """
CREATE TABLE IF NOT EXISTS docs (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    published REAL NOT NULL,
    sentiment TEXT NOT NULL,
    topic TEXT NOT NULL,
    model_version TEXT NOT NULL,
    tickers TEXT NOT NULL,
    payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS docs_published ON docs(published);
CREATE INDEX IF NOT EXISTS docs_topic ON docs(topic, published);
CREATE VIRTUAL TABLE IF NOT EXISTS docs_fts USING fts5(
    title, body, content='docs', content_rowid='rowid'
);
CREATE TRIGGER IF NOT EXISTS docs_ai AFTER INSERT ON docs BEGIN
    INSERT INTO docs_fts(rowid, title, body) VALUES (new.rowid, new.title, new.body);
END;
CREATE TRIGGER IF NOT EXISTS docs_ad AFTER DELETE ON docs BEGIN
    INSERT INTO docs_fts(docs_fts, rowid, title, body) VALUES ('delete', old.rowid, old.title, old.body);
END;
CREATE TRIGGER IF NOT EXISTS docs_au AFTER UPDATE ON docs BEGIN
    INSERT INTO docs_fts(docs_fts, rowid, title, body) VALUES ('delete', old.rowid, old.title, old.body);
    INSERT INTO docs_fts(rowid, title, body) VALUES (new.rowid, new.title, new.body);
END;
"""

_UPSERT = """
INSERT INTO docs (id, source, title, body, published, sentiment, topic, model_version, tickers, payload)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT(id) DO UPDATE SET
    source=excluded.source, title=excluded.title, body=excluded.body, published=excluded.published,
    sentiment=excluded.sentiment, topic=excluded.topic, model_version=excluded.model_version,
    tickers=excluded.tickers, payload=excluded.payload
"""


def _fts_query(text: str) -> str:
    # Quote each word so user input is never parsed as FTS5 syntax (no injection, no errors).
    # Control characters (NUL included) end SQLite strings early; they never match anyway.
    cleaned = "".join(ch if ch.isprintable() else " " for ch in text)
    words = [w.replace('"', '""') for w in cleaned.split()]
    return " ".join(f'"{w}"' for w in words)


def _when(doc: ScoredDoc) -> float:
    return (doc.published_at or doc.fetched_at).timestamp()


class SqliteStore:
    """Document store in one SQLite file; safe to share between threads of one process.

    Args:
        path: the database file (created with its folder).

    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, timeout=30.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit is on disk when upsert returns, so the worker may commit offsets.
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def upsert(self, docs: Sequence[ScoredDoc]) -> None:
        """Insert or replace by id in one transaction."""
        rows = [
            (
                d.id,
                d.source,
                d.title,
                d.body,
                _when(d),
                d.sentiment,
                d.topic,
                d.model_version,
                json.dumps(d.tickers),
                d.model_dump_json(by_alias=True),
            )
            for d in docs
        ]
        with self._lock, self._db:
            self._db.executemany(_UPSERT, rows)

    def get(self, doc_id: str) -> ScoredDoc | None:
        """One document by id, or None."""
        with self._lock:
            row = self._db.execute("SELECT payload FROM docs WHERE id = ?", (doc_id,)).fetchone()
        return ScoredDoc.model_validate_json(row[0]) if row else None

    def search(self, query: SearchQuery) -> list[ScoredDoc]:
        """Filtered documents, newest first."""
        where, args = self._filters(query)
        sql = "SELECT docs.payload FROM docs"
        if query.text and _fts_query(query.text):
            sql += " JOIN docs_fts ON docs_fts.rowid = docs.rowid"
            where.append("docs_fts MATCH ?")
            args.append(_fts_query(query.text))
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY docs.published DESC, docs.id LIMIT ?"
        args.append(query.limit)
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [ScoredDoc.model_validate_json(r[0]) for r in rows]

    @staticmethod
    def _filters(q: SearchQuery) -> tuple[list[str], list[Any]]:
        where: list[str] = []
        args: list[Any] = []
        for column, value in (("topic", q.topic), ("sentiment", q.sentiment), ("source", q.source)):
            if value is not None:
                where.append(f"docs.{column} = ?")
                args.append(value)
        if q.ticker:
            where.append("EXISTS (SELECT 1 FROM json_each(docs.tickers) WHERE json_each.value = ?)")
            args.append(q.ticker.upper().lstrip("$"))
        if q.since:
            where.append("docs.published >= ?")
            args.append(q.since.timestamp())
        if q.until:
            where.append("docs.published < ?")
            args.append(q.until.timestamp())
        return where, args

    def counts(self, bucket_seconds: int, since: datetime | None = None) -> list[BucketCount]:
        """Documents per bucket x topic x sentiment, oldest bucket first."""
        sql = (
            "SELECT CAST(published / ? AS INTEGER) * ? AS b, topic, sentiment, COUNT(*) FROM docs"
            " WHERE published >= ? GROUP BY b, topic, sentiment ORDER BY b, topic, sentiment"
        )
        start = since.timestamp() if since else 0.0
        with self._lock:
            rows = self._db.execute(sql, (bucket_seconds, bucket_seconds, start)).fetchall()
        return [
            BucketCount(bucket=datetime.fromtimestamp(b, UTC), topic=t, sentiment=s, count=n) for b, t, s, n in rows
        ]

    def total(self) -> int:
        """How many documents are stored."""
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM docs").fetchone()[0])

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._db.close()
