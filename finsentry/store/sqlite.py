"""SQLite document store: WAL for concurrent readers, FTS5 for text search (schema in ``migrations``)."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from finsentry.protocols import (
    BucketCount,
    Dimension,
    KeyStat,
    Rejected,
    SearchQuery,
    TrendBucket,
    TrendQuery,
)
from finsentry.schemas import ScoredDoc
from finsentry.store.common import months_before, parse_cursor, rank_keys, to_us
from finsentry.store.migrations import MIGRATIONS
from finsentry.store.sqlitedb import SqliteDatabase
from finsentry.store.text import query_words

log = logging.getLogger(__name__)
_DOC_MIGRATIONS_END = 10  # 1-9: the documents' range

_UPSERT = """
INSERT INTO docs (id, source, title, body, published, sentiment, topic, model_version, tickers, payload,
                  event_us, story_id, signed_score)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT(id) DO UPDATE SET
    source=excluded.source, title=excluded.title, body=excluded.body, published=excluded.published,
    sentiment=excluded.sentiment, topic=excluded.topic, model_version=excluded.model_version,
    tickers=excluded.tickers, payload=excluded.payload, event_us=excluded.event_us,
    story_id=excluded.story_id, signed_score=excluded.signed_score
"""

# The SQL expression of each trend dimension's key (ticker comes from the joined doc_tickers row).
_KEY_SQL: dict[str, str] = {
    "all": "'all'",
    "topic": "docs.topic",
    "ticker": "doc_tickers.ticker",
    "source": "docs.source",
    "sentiment": "docs.sentiment",
}


def _fts_query(text: str | None) -> str:
    # Each word quoted: user input is never parsed as FTS5 syntax (no injection, no errors).
    return " ".join('"' + w.replace('"', '""') + '"' for w in query_words(text))


def _row(d: ScoredDoc) -> tuple[Any, ...]:
    return (
        d.id,
        d.source,
        d.title,
        d.body,
        d.event_time.timestamp(),
        d.sentiment,
        d.topic,
        d.model_version,
        json.dumps(d.tickers),
        d.model_dump_json(by_alias=True),
        to_us(d.event_time),
        d.story_id,
        d.signed_score,
    )


class _Where:
    """WHERE clauses with their arguments, built in order."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.args: list[Any] = []

    def add(self, clause: str, *args: Any) -> None:
        self.parts.append(clause)
        self.args.extend(args)

    def equal(self, column: str, value: str | None) -> None:
        if value is not None:
            self.add(f"{column} = ?", value)

    def ticker(self, value: str | None) -> None:
        if value:
            self.add(
                "EXISTS (SELECT 1 FROM doc_tickers t WHERE t.doc_id = docs.id AND t.ticker = ?)",
                value.upper().lstrip("$"),
            )

    def window(self, since: datetime | None, until: datetime | None) -> None:
        if since is not None:
            self.add("docs.event_us >= ?", to_us(since))
        if until is not None:
            self.add("docs.event_us < ?", to_us(until))

    def sql(self) -> str:
        return (" WHERE " + " AND ".join(self.parts)) if self.parts else ""


class SqliteStore:
    """Document store in one SQLite file; safe to share between threads of one process.

    Args:
        path: the database file (created with its folder), or an open shared database.

    """

    def __init__(self, path: Path | SqliteDatabase) -> None:
        self.database = path if isinstance(path, SqliteDatabase) else SqliteDatabase(path)
        self._lock = self.database.lock
        self._db = self.database.conn

    def ensure(self) -> None:
        """Recreate the documents' schema when its table vanished (the file is migrated on open).

        A file whose ``docs`` table was dropped still records its migrations as applied; the
        documents' migrations are idempotent over what remains, so they are applied again.
        """
        with self._lock:
            found = self._db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='docs'").fetchone()
            if found:
                return
            log.warning("%s: documents table missing; recreating its schema", self.database.path)
            for version in sorted(v for v in MIGRATIONS if v < _DOC_MIGRATIONS_END):
                self._db.executescript(f"BEGIN;\n{MIGRATIONS[version]}\nCOMMIT;")

    def upsert(self, docs: Sequence[ScoredDoc]) -> list[Rejected]:
        """Insert or replace by id in one transaction; SQLite refuses nothing on its own."""
        rows = [_row(d) for d in docs]
        with self._lock, self._db:
            self._db.executemany(_UPSERT, rows)
        return []

    def get(self, doc_id: str) -> ScoredDoc | None:
        """One document by id, or None."""
        with self._lock:
            row = self._db.execute("SELECT payload FROM docs WHERE id = ?", (doc_id,)).fetchone()
        return ScoredDoc.model_validate_json(row[0]) if row else None

    def search(self, query: SearchQuery) -> list[ScoredDoc]:
        """Filtered documents, newest first by (event time, id), from the cursor ``query.after``."""
        where = self._filters(query)
        sql = "SELECT docs.payload FROM docs"
        match = _fts_query(query.text)
        if match:  # as a set of rowids: the planner then filters and orders docs by its own indices
            where.add("docs.rowid IN (SELECT rowid FROM docs_text WHERE docs_text MATCH ?)", match)
        if query.after:
            us, last_id = parse_cursor(query.after)
            where.add("(docs.event_us < ? OR (docs.event_us = ? AND docs.id < ?))", us, us, last_id)
        sql += where.sql() + " ORDER BY docs.event_us DESC, docs.id DESC LIMIT ?"
        with self._lock:
            rows = self._db.execute(sql, [*where.args, query.limit]).fetchall()
        return [ScoredDoc.model_validate_json(r[0]) for r in rows]

    @staticmethod
    def _filters(q: SearchQuery) -> _Where:
        where = _Where()
        for column, value in (
            ("docs.topic", q.topic),
            ("docs.sentiment", q.sentiment),
            ("docs.source", q.source),
            ("docs.story_id", q.story_id),
            ("docs.model_version", q.model_version),
        ):
            where.equal(column, value)
        where.ticker(q.ticker)
        where.window(q.since, q.until)
        return where

    def counts(self, bucket_seconds: int, since: datetime | None = None) -> list[BucketCount]:
        """Documents per bucket x topic x sentiment, oldest bucket first."""
        width = bucket_seconds * 1_000_000
        sql = (
            "SELECT (event_us / ?) * ? AS b, topic, sentiment, COUNT(*) FROM docs"
            " WHERE event_us >= ? GROUP BY b, topic, sentiment ORDER BY b, topic, sentiment"
        )
        start = to_us(since) if since else 0
        with self._lock:
            rows = self._db.execute(sql, (width, bucket_seconds, start)).fetchall()
        return [
            BucketCount(bucket=datetime.fromtimestamp(b, UTC), topic=t, sentiment=s, count=n) for b, t, s, n in rows
        ]

    def _grouped(self, dimension: Dimension, where: _Where, bucket_seconds: int | None) -> list[tuple[Any, ...]]:
        key = _KEY_SQL[dimension]
        join = " JOIN doc_tickers ON doc_tickers.doc_id = docs.id" if dimension == "ticker" else ""
        bucket = f"(docs.event_us / {bucket_seconds * 1_000_000}) * {bucket_seconds}" if bucket_seconds else "0"
        sql = (
            f"SELECT {bucket} AS b, {key} AS k, COUNT(*), COUNT(DISTINCT docs.story_id),"
            " SUM(docs.sentiment = 'negative'), AVG(docs.signed_score)"
            f" FROM docs{join}{where.sql()} GROUP BY b, k ORDER BY b, k"
        )
        with self._lock:
            return self._db.execute(sql, where.args).fetchall()

    def trend(self, query: TrendQuery) -> list[TrendBucket]:
        """Per bucket x key: documents, distinct stories, negatives, mean signed score; oldest first."""
        where = _Where()
        for column, value in (("docs.topic", query.topic), ("docs.source", query.source)):
            where.equal(column, value)
        where.equal("docs.sentiment", query.sentiment)
        where.ticker(query.ticker)
        where.window(query.since, query.until)
        rows = self._grouped(query.dimension, where, query.bucket_seconds)
        # model_construct: every value comes typed from our own columns (validation would double the time)
        return [
            TrendBucket.model_construct(
                bucket=datetime.fromtimestamp(b, UTC), key=str(k), count=n, stories=s, negative=neg, mean_score=mean
            )
            for b, k, n, s, neg, mean in rows
        ]

    def top_keys(
        self, dimension: Dimension, since: datetime, until: datetime | None, min_count: int, limit: int
    ) -> list[KeyStat]:
        """Keys by negative share (then count, then key) with at least ``min_count`` documents."""
        where = _Where()
        where.window(since, until)
        stats = [
            KeyStat(key=str(k), count=n, negative=neg, negative_share=neg / n, mean_score=mean)
            for _, k, n, _, neg, mean in self._grouped(dimension, where, None)
            if n >= min_count
        ]
        return rank_keys(stats, limit)

    def prune(self, retention_months: int, now: datetime | None = None) -> int:
        """Delete documents whose event month is more than ``retention_months`` before ``now``'s."""
        if retention_months <= 0:
            return 0
        cutoff = months_before(now or datetime.now(UTC), retention_months)
        with self._lock, self._db:
            cur = self._db.execute("DELETE FROM docs WHERE event_us < ?", (to_us(cutoff),))
        return int(cur.rowcount)

    def total(self) -> int:
        """How many documents are stored."""
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM docs").fetchone()[0])

    def close(self) -> None:
        """Close the connection."""
        self.database.close()
