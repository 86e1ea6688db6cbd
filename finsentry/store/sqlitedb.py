"""One SQLite file shared by every record kind: WAL, durable commits, versioned additive migrations."""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

from finsentry.store.migrations import MIGRATIONS
from finsentry.stories import band_int

log = logging.getLogger(__name__)


class SqliteDatabase:
    """A connection with its lock; applies every migration the file has not seen yet.

    Migrations are additive and numbered; a version is applied once and recorded in
    ``schema_migrations``, so an existing database upgrades in place on open.

    Args:
        path: the database file (created with its folder).

    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.lock = threading.Lock()
        self.conn = sqlite3.connect(str(path), check_same_thread=False, timeout=30.0)
        self.conn.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit is on disk when a write returns, so the worker may commit offsets.
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.create_function("finsentry_band_key", 1, band_int, deterministic=True)  # used by migration 33
        self.migrate()

    def migrate(self) -> list[int]:
        """Apply missing migrations in ascending order; return the versions applied."""
        with self.lock, self.conn:
            self.conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, at REAL)")
            done = {r[0] for r in self.conn.execute("SELECT version FROM schema_migrations")}
        applied = []
        for version in sorted(set(MIGRATIONS) - done):
            with self.lock:
                # executescript commits first; the version row is written in the same script so that
                # a crash between the two cannot happen. Statements must be idempotent (IF NOT EXISTS).
                record = f"INSERT OR IGNORE INTO schema_migrations VALUES ({version}, strftime('%s', 'now'));"
                self.conn.executescript(f"BEGIN;\n{MIGRATIONS[version]}\n{record}\nCOMMIT;")
            log.info("%s: schema migration %d applied", self.path, version)
            applied.append(version)
        return applied

    def close(self) -> None:
        """Close the connection."""
        with self.lock:
            self.conn.close()
