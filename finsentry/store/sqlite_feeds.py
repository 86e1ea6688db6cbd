"""Crawler records on SQLite: feed health, the seen-set, and the story index (migrations 30-32)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from finsentry.schemas import FeedHealth, ScoredDoc
from finsentry.store.sqlitedb import SqliteDatabase
from finsentry.stories import WINDOW_S, Signature, same_story

_CHUNK = 500  # SQLite's variable limit is far above; keeps statements short


class SqliteFeedHealthStore:
    """Per-feed health in the shared SQLite file.

    Args:
        db: the shared database.

    """

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    def put_health(self, health: FeedHealth) -> None:
        """Insert or replace by feed name."""
        with self._db.lock, self._db.conn:
            self._db.conn.execute(
                "INSERT OR REPLACE INTO feed_health (name, payload) VALUES (?, ?)",
                (health.name, health.model_dump_json(by_alias=True)),
            )

    def list_health(self) -> list[FeedHealth]:
        """Every feed's latest health, by name."""
        with self._db.lock:
            rows = self._db.conn.execute("SELECT payload FROM feed_health ORDER BY name").fetchall()
        return [FeedHealth.model_validate_json(r[0]) for r in rows]


class SqliteSeenItems:
    """The crawler's seen-set: keys with the time they were produced.

    Args:
        db: the shared database.

    """

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    def unseen(self, keys: Sequence[str]) -> list[str]:
        """The keys not remembered, in the given order."""
        known: set[str] = set()
        with self._db.lock:
            for i in range(0, len(keys), _CHUNK):
                part = list(keys[i : i + _CHUNK])
                marks = ",".join("?" * len(part))
                rows = self._db.conn.execute(f"SELECT key FROM seen_items WHERE key IN ({marks})", part)
                known.update(r[0] for r in rows)
        return [k for k in keys if k not in known]

    def remember(self, keys: Sequence[str], at: datetime) -> None:
        """Remember keys as seen at ``at`` (durable on return)."""
        with self._db.lock, self._db.conn:
            self._db.conn.executemany(
                "INSERT OR REPLACE INTO seen_items (key, seen_at) VALUES (?, ?)", [(k, at.timestamp()) for k in keys]
            )

    def expire(self, before: datetime) -> int:
        """Forget keys seen before ``before``; return how many."""
        with self._db.lock, self._db.conn:
            return self._db.conn.execute("DELETE FROM seen_items WHERE seen_at < ?", (before.timestamp(),)).rowcount


class SqliteStoryIndex:
    """Story grouping backed by the shared SQLite file, so every worker process sees one index.

    Each document's signature (content words and MinHash band keys) is stored with its story id.
    A new document takes the story of the earliest stored copy whose words confirm the match
    (:func:`finsentry.stories.same_story`), else starts its own. Lookup and insert run in one
    ``BEGIN IMMEDIATE`` transaction, so two workers never both found a story for two copies.

    Args:
        db: the shared database.

    """

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    def assign(self, docs: Sequence[ScoredDoc]) -> list[ScoredDoc]:
        """The same documents (same order) with ``story_id`` set to the earliest known copy's id."""
        story: dict[str, str] = {}
        conn = self._db.conn
        with self._db.lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for doc in sorted(docs, key=lambda d: (d.event_time, d.id)):
                    story[doc.id] = self._assign_one(doc)
                conn.commit()
            except BaseException:
                conn.rollback()
                raise
        return [d.model_copy(update={"story_id": story[d.id]}) for d in docs]

    def _assign_one(self, doc: ScoredDoc) -> str:
        conn = self._db.conn
        row = conn.execute("SELECT story_id FROM story_members WHERE doc_id = ?", (doc.id,)).fetchone()
        if row:  # a replay keeps the story it had
            return str(row[0])
        sig = Signature.of(doc.title or doc.body[:300])
        when = doc.event_time.timestamp()
        story_id = self._earliest_match(sig, when) or doc.id
        conn.execute(
            "INSERT INTO story_members (doc_id, story_id, event_time, words) VALUES (?, ?, ?, ?)",
            (doc.id, story_id, when, " ".join(sig.words)),
        )
        conn.executemany(
            "INSERT OR IGNORE INTO story_bands (band, doc_id) VALUES (?, ?)", [(b, doc.id) for b in sig.bands]
        )
        return story_id

    def _earliest_match(self, sig: Signature, when: float) -> str | None:
        if not sig.bands:
            return None
        marks = ",".join("?" * len(sig.bands))
        rows = self._db.conn.execute(
            "SELECT DISTINCT m.doc_id, m.story_id, m.event_time, m.words FROM story_bands b "
            f"JOIN story_members m ON m.doc_id = b.doc_id WHERE b.band IN ({marks}) "
            "AND m.event_time BETWEEN ? AND ?",
            [*sig.bands, when - WINDOW_S, when + WINDOW_S],
        ).fetchall()
        matches = [(t, d, s) for d, s, t, w in rows if same_story(sig.words, w.split())]
        return min(matches)[2] if matches else None
