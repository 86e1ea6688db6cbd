"""SQLite schema, as numbered additive migrations (never edit a landed one; add the next number).

Ranges keep parts from colliding: 1-9 documents, 10-19 alerts/subscribers/deliveries,
20-29 labels, 30-39 crawler (feed health, seen items, stories), 40-49 rescoring.
"""

from __future__ import annotations

_DOCS_V1 = """
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

_LABELS_V1 = """
CREATE TABLE IF NOT EXISTS labels (
    id TEXT PRIMARY KEY,
    doc_id TEXT,
    created REAL NOT NULL,
    payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS labels_created ON labels(created, id);
"""

MIGRATIONS: dict[int, str] = {
    1: _DOCS_V1,
    20: _LABELS_V1,
}
