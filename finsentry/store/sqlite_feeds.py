"""Crawler records on SQLite: feed health, the seen-set, and the story index (migrations 30-33)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from finsentry.schemas import FeedHealth, ScoredDoc
from finsentry.store.sqlitedb import SqliteDatabase
from finsentry.stories import WINDOW_S, band_ints, same_story, tokens

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

    Each document's signature (content words and MinHash band keys, as integers) is stored with
    its story id. A new document takes the story of the earliest stored copy whose words confirm
    the match (:func:`finsentry.stories.same_story`), else starts its own. A batch is looked up and
    written in one ``BEGIN IMMEDIATE`` transaction, so two workers never both found a story for two
    copies.

    Args:
        db: the shared database.

    """

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    def assign(self, docs: Sequence[ScoredDoc]) -> list[ScoredDoc]:
        """The same documents (same order) with ``story_id`` set to the earliest known copy's id."""
        conn = self._db.conn
        # signatures need no database: computed before the write lock, which other workers wait on
        keys = {d.id: _Keys.of(d) for d in docs}
        with self._db.lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                story = self._assign_batch(docs, keys)
                conn.commit()
            except BaseException:
                conn.rollback()
                raise
        return [d.model_copy(update={"story_id": story[d.id]}) for d in docs]

    def _assign_batch(self, docs: Sequence[ScoredDoc], keys: dict[str, _Keys]) -> dict[str, str]:
        story = self._known(list(keys))
        todo = sorted({d.id: d for d in docs if d.id not in story}.values(), key=lambda d: (d.event_time, d.id))
        by_band = self._candidates({b for d in todo for b in keys[d.id].bands})
        conn = self._db.conn
        member = conn.execute("SELECT coalesce(max(member), 0) FROM story_docs").fetchone()[0]
        rows, key_rows = [], []
        for doc in todo:
            sig, when = keys[doc.id], doc.event_time.timestamp()
            story[doc.id] = _earliest_match(sig, when, by_band) or doc.id
            entry = _Member(doc.id, story[doc.id], when, sig.words)
            for band in sig.bands:  # later documents of this batch see this one
                by_band.setdefault(band, []).append(entry)
            member += 1
            rows.append((member, doc.id, story[doc.id], when, " ".join(sig.words)))
            key_rows += [(b, member) for b in sig.bands]
        conn.executemany(
            "INSERT INTO story_docs (member, doc_id, story_id, event_time, words) VALUES (?, ?, ?, ?, ?)", rows
        )
        conn.executemany("INSERT OR IGNORE INTO story_keys (band, member) VALUES (?, ?)", key_rows)
        return story

    def _known(self, ids: list[str]) -> dict[str, str]:
        """Documents already assigned (a replay keeps the story it had)."""
        known: dict[str, str] = {}
        for i in range(0, len(ids), _CHUNK):
            part = ids[i : i + _CHUNK]
            rows = self._db.conn.execute(
                f"SELECT doc_id, story_id FROM story_docs WHERE doc_id IN ({','.join('?' * len(part))})", part
            )
            known.update((str(d), str(s)) for d, s in rows)
        return known

    def _candidates(self, bands: set[int]) -> dict[int, list[_Member]]:
        """Stored documents sharing a band with ``bands``, by band.

        Band hits are read from the key index alone, then each member's row once: a copy shares
        most of its bands, so reading the row per hit would decode it up to ``BANDS`` times.
        """
        conn, ordered = self._db.conn, sorted(bands)
        hits: list[tuple[int, int]] = []
        for i in range(0, len(ordered), _CHUNK):
            part = ordered[i : i + _CHUNK]
            hits += conn.execute(
                f"SELECT band, member FROM story_keys WHERE band IN ({','.join('?' * len(part))})", part
            )
        members: dict[int, _Member] = {}
        wanted = sorted({m for _, m in hits})
        for i in range(0, len(wanted), _CHUNK):
            part = wanted[i : i + _CHUNK]
            rows = conn.execute(
                "SELECT member, doc_id, story_id, event_time, words FROM story_docs "
                f"WHERE member IN ({','.join('?' * len(part))})",
                part,
            )
            members.update((m, _Member(d, s, w, tuple(t.split()))) for m, d, s, w, t in rows)
        out: dict[int, list[_Member]] = {}
        for band, member in hits:
            if member in members:  # as the join did: a key whose document row is gone matches nothing
                out.setdefault(band, []).append(members[member])
        return out


def _earliest_match(sig: _Keys, when: float, by_band: dict[int, list[_Member]]) -> str | None:
    """The story of the earliest candidate that is a copy: candidates in time order, first match wins."""
    cands = {c.doc_id: c for band in sig.bands for c in by_band.get(band, ()) if abs(c.when - when) <= WINDOW_S}
    for cand in sorted(cands.values(), key=lambda c: (c.when, c.doc_id)):
        if same_story(sig.words, cand.words):
            return cand.story_id
    return None


@dataclass(frozen=True)
class _Keys:
    """A document's content words and band keys as the index stores them."""

    words: tuple[str, ...]
    bands: list[int]

    @classmethod
    def of(cls, doc: ScoredDoc) -> _Keys:
        words = tokens(doc.title or doc.body[:300])
        return cls(words, band_ints(words))


@dataclass(frozen=True)
class _Member:
    doc_id: str
    story_id: str
    when: float
    words: tuple[str, ...]
