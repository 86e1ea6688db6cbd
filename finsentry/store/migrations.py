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

# Analysts' corrections: append-only, one row per correction; export picks each document's latest.
_LABELS_V1 = """
CREATE TABLE IF NOT EXISTS labels (
    id TEXT PRIMARY KEY,
    doc_id TEXT,
    created REAL NOT NULL,
    payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS labels_created ON labels(created, id);
CREATE INDEX IF NOT EXISTS labels_doc ON labels(doc_id, created);
"""

# v2: event time in microseconds (the pagination cursor's unit), story and signed score as columns,
# one row per (document, ticker), and a stemming full-text index (porter: the same rule as the
# Elasticsearch ``english`` analyzer). Backfilled from ``payload``; the v1 text index is replaced.
_DOCS_V2 = """
ALTER TABLE docs ADD COLUMN event_us INTEGER NOT NULL DEFAULT 0;
ALTER TABLE docs ADD COLUMN story_id TEXT NOT NULL DEFAULT '';
ALTER TABLE docs ADD COLUMN signed_score REAL NOT NULL DEFAULT 0.0;
UPDATE docs SET
    event_us = CAST(round(published * 1000000) AS INTEGER),
    story_id = COALESCE(NULLIF(json_extract(payload, '$.story_id'), ''), id),
    signed_score = COALESCE(json_extract(payload, '$.signed_score'), 0.0);
CREATE INDEX IF NOT EXISTS docs_event ON docs(event_us, id);
CREATE INDEX IF NOT EXISTS docs_story ON docs(story_id);
CREATE TABLE IF NOT EXISTS doc_tickers (
    doc_id TEXT NOT NULL,
    ticker TEXT NOT NULL,
    PRIMARY KEY (doc_id, ticker)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS doc_tickers_ticker ON doc_tickers(ticker, doc_id);
INSERT OR IGNORE INTO doc_tickers SELECT docs.id, json_each.value FROM docs, json_each(docs.tickers);
DROP TRIGGER IF EXISTS docs_ai;
DROP TRIGGER IF EXISTS docs_ad;
DROP TRIGGER IF EXISTS docs_au;
DROP TABLE IF EXISTS docs_fts;
CREATE VIRTUAL TABLE IF NOT EXISTS docs_text USING fts5(
    title, body, content='docs', content_rowid='rowid', tokenize='porter unicode61'
);
INSERT INTO docs_text(docs_text) VALUES ('rebuild');
CREATE TRIGGER IF NOT EXISTS docs_v2_ai AFTER INSERT ON docs BEGIN
    INSERT INTO docs_text(rowid, title, body) VALUES (new.rowid, new.title, new.body);
    INSERT OR IGNORE INTO doc_tickers SELECT new.id, value FROM json_each(new.tickers);
END;
CREATE TRIGGER IF NOT EXISTS docs_v2_ad AFTER DELETE ON docs BEGIN
    INSERT INTO docs_text(docs_text, rowid, title, body) VALUES ('delete', old.rowid, old.title, old.body);
    DELETE FROM doc_tickers WHERE doc_id = old.id;
END;
CREATE TRIGGER IF NOT EXISTS docs_v2_au AFTER UPDATE ON docs BEGIN
    INSERT INTO docs_text(docs_text, rowid, title, body) VALUES ('delete', old.rowid, old.title, old.body);
    INSERT INTO docs_text(rowid, title, body) VALUES (new.rowid, new.title, new.body);
    DELETE FROM doc_tickers WHERE doc_id = old.id;
    INSERT OR IGNORE INTO doc_tickers SELECT new.id, value FROM json_each(new.tickers);
END;
"""

# v3: a covering index for time-window aggregations (trend, top keys): no table lookups per row.
_DOCS_V3 = """
CREATE INDEX IF NOT EXISTS docs_window ON docs(event_us, topic, source, sentiment, story_id, signed_score);
"""

# v4: the v1 indices on ``published`` are unused since reads go by ``event_us``; each cost every write.
_DOCS_V4 = """
DROP INDEX IF EXISTS docs_published;
DROP INDEX IF EXISTS docs_topic;
"""

_ALERTS_V1 = """
CREATE TABLE IF NOT EXISTS alerts (
    id TEXT PRIMARY KEY,
    rule TEXT NOT NULL,
    key TEXT NOT NULL,
    state TEXT NOT NULL,
    updated REAL NOT NULL,
    payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_state ON alerts(state, updated);
CREATE INDEX IF NOT EXISTS alerts_updated ON alerts(updated);
CREATE TABLE IF NOT EXISTS subscribers (
    id TEXT PRIMARY KEY,
    created REAL NOT NULL,
    payload TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS deliveries (
    id TEXT PRIMARY KEY,
    subscriber_id TEXT NOT NULL,
    status TEXT NOT NULL,
    created REAL NOT NULL,
    payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS deliveries_status ON deliveries(status, created);
CREATE INDEX IF NOT EXISTS deliveries_created ON deliveries(created);
"""

_FEED_HEALTH_V30 = """
CREATE TABLE IF NOT EXISTS feed_health (
    name TEXT PRIMARY KEY,
    payload TEXT NOT NULL
);
"""

_SEEN_ITEMS_V31 = """
CREATE TABLE IF NOT EXISTS seen_items (
    key TEXT PRIMARY KEY,
    seen_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS seen_items_at ON seen_items(seen_at);
"""

_STORIES_V32 = """
CREATE TABLE IF NOT EXISTS story_members (
    doc_id TEXT PRIMARY KEY,
    story_id TEXT NOT NULL,
    event_time REAL NOT NULL,
    words TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS story_bands (
    band TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    PRIMARY KEY (band, doc_id)
) WITHOUT ROWID;
"""

# Band keys as integers pointing at an integer member number: a key row is ~16 bytes instead of
# ~60, which makes the story index's inserts about three times cheaper. Existing rows are carried
# over (finsentry_band_key is registered on the connection by SqliteDatabase).
_STORIES_V33 = """
CREATE TABLE IF NOT EXISTS story_docs (
    member INTEGER PRIMARY KEY,
    doc_id TEXT NOT NULL UNIQUE,
    story_id TEXT NOT NULL,
    event_time REAL NOT NULL,
    words TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS story_keys (
    band INTEGER NOT NULL,
    member INTEGER NOT NULL,
    PRIMARY KEY (band, member)
) WITHOUT ROWID;
INSERT OR IGNORE INTO story_docs (doc_id, story_id, event_time, words)
    SELECT doc_id, story_id, event_time, words FROM story_members ORDER BY rowid;
INSERT OR IGNORE INTO story_keys (band, member)
    SELECT finsentry_band_key(b.band), d.member FROM story_bands b JOIN story_docs d ON d.doc_id = b.doc_id;
DROP TABLE IF EXISTS story_bands;
DROP TABLE IF EXISTS story_members;
"""

MIGRATIONS: dict[int, str] = {
    1: _DOCS_V1,
    2: _DOCS_V2,
    3: _DOCS_V3,
    4: _DOCS_V4,
    10: _ALERTS_V1,
    20: _LABELS_V1,
    30: _FEED_HEALTH_V30,
    31: _SEEN_ITEMS_V31,
    32: _STORIES_V32,
    33: _STORIES_V33,
}
