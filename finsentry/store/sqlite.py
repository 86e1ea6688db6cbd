"""SQLite document store: WAL for concurrent readers, FTS5 for text search (schema in ``migrations``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from finsentry.protocols import BucketCount, Dimension, KeyStat, Rejected, SearchQuery, TrendBucket, TrendQuery
from finsentry.schemas import ScoredDoc
from finsentry.store.sqlitedb import SqliteDatabase

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

    def __init__(self, path: Path | SqliteDatabase) -> None:
        self.database = path if isinstance(path, SqliteDatabase) else SqliteDatabase(path)
        self._lock = self.database.lock
        self._db = self.database.conn

    def upsert(self, docs: Sequence[ScoredDoc]) -> list[Rejected]:
        """Insert or replace by id in one transaction; SQLite refuses nothing on its own."""
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
        return []

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

    def trend(self, query: TrendQuery) -> list[TrendBucket]:
        """Per bucket x key aggregation (implemented with the documents' v2 columns)."""
        raise NotImplementedError("SqliteStore.trend lands with the store's v2 schema")

    def top_keys(
        self, dimension: Dimension, since: datetime, until: datetime | None, min_count: int, limit: int
    ) -> list[KeyStat]:
        """Keys by negative share (implemented with the documents' v2 columns)."""
        raise NotImplementedError("SqliteStore.top_keys lands with the store's v2 schema")

    def total(self) -> int:
        """How many documents are stored."""
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM docs").fetchone()[0])

    def close(self) -> None:
        """Close the connection."""
        self.database.close()
