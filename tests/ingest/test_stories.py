from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from finsentry.store.sqlite_feeds import SqliteStoryIndex
from finsentry.store.sqlitedb import SqliteDatabase
from finsentry.stories import Signature, core_title, same_story, tokens
from tests.ingest.story_eval import doc, grouping_scores

T0 = datetime(2026, 11, 20, 12, tzinfo=UTC)


def test_wire_prefixes_and_suffixes_are_removed() -> None:
    assert core_title("UPDATE 2-Apple beats estimates - Reuters") == "Apple beats estimates"
    assert core_title("BRIEF-RPT-Tesla recalls cars | Bloomberg") == "Tesla recalls cars"
    assert tokens("Apple shares rise 3%") == ("apple", "share", "rise", "3", "pct")


def test_different_stories_sharing_a_ticker_stay_apart() -> None:
    pairs = [
        ("Apple shares rise 3% after earnings beat", "Apple shares fall 3% after earnings miss"),
        ("Boeing wins $20 billion order from Emirates", "Airbus wins $20 billion order from Emirates"),
        ("ShiftPixy EPS misses by $0.15, beats on revenue", "ShiftPixy EPS beats by $0.15, misses on revenue"),
        ("Apple to buy back $90 billion of stock", "Apple to buy back $100 billion of stock"),
    ]
    for a, b in pairs:
        assert not same_story(tokens(a), tokens(b)), (a, b)
    assert same_story(tokens("FedEx slams NYT tax story"), tokens("FedEx slams New York Times tax story"))


def test_grouping_precision_and_recall_on_labelled_pairs(tmp_path: Path) -> None:
    scores = grouping_scores(SqliteStoryIndex(SqliteDatabase(tmp_path / "s.db")))
    assert scores["pairs"] >= 300
    assert scores["precision"] >= 0.95 and scores["recall"] >= 0.95, scores


def test_earliest_copy_names_the_story_and_survives_restart(tmp_path: Path) -> None:
    index = SqliteStoryIndex(SqliteDatabase(tmp_path / "s.db"))
    later = doc("b", "Apple beats quarterly revenue estimates - Reuters", T0 + timedelta(minutes=5))
    first = doc("a", "UPDATE 1-Apple beats quarterly revenue estimates", T0)
    other = doc("c", "Apple misses quarterly revenue estimates", T0 + timedelta(minutes=1))
    out = index.assign([later, first, other])
    assert [d.story_id for d in out] == ["a", "a", "c"]
    reopened = SqliteStoryIndex(SqliteDatabase(tmp_path / "s.db"))
    copy = doc("d", "Apple Beats Quarterly Revenue Estimates | Bloomberg", T0 + timedelta(hours=2))
    assert reopened.assign([copy])[0].story_id == "a"
    assert reopened.assign([later])[0].story_id == "a"  # a replay keeps its story
    far = doc("e", "Apple beats quarterly revenue estimates", T0 + timedelta(days=30))
    assert reopened.assign([far])[0].story_id == "e"  # a month later it is news again


def test_no_signature_means_own_story(tmp_path: Path) -> None:
    index = SqliteStoryIndex(SqliteDatabase(tmp_path / "s.db"))
    assert Signature.of("Up").bands == []
    assert [d.story_id for d in index.assign([doc("x", "Up", T0), doc("y", "Up", T0)])] == ["x", "y"]


def _assign_in_process(path: str, name: str, start: float) -> None:
    import time

    index = SqliteStoryIndex(SqliteDatabase(Path(path)))
    while time.time() < start:
        time.sleep(0.001)
    for i in range(30):
        title = f"Company {i} wins contract for bridge number {i}"
        index.assign([doc(f"{name}-{i}", title + (" - Reuters" if name == "w2" else ""), T0)])


def test_two_worker_processes_agree_on_stories(tmp_path: Path) -> None:
    import time

    path = tmp_path / "s.db"
    SqliteDatabase(path).close()
    start = time.time() + 3.0
    # Separate interpreters, as two workers are (a spawn child would re-run whatever script an
    # earlier in-process test left as __main__).
    code = (
        "import sys; from tests.ingest.test_stories import _assign_in_process as a;"
        " a(sys.argv[1], sys.argv[2], float(sys.argv[3]))"
    )
    root = Path(__file__).resolve().parents[2]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(path), n, str(start)],
            cwd=root,
            env={**os.environ, "PYTHONPATH": str(root)},
        )
        for n in ("w1", "w2")
    ]
    for p in procs:
        assert p.wait(60) == 0
    db = SqliteDatabase(path)
    rows = dict(db.conn.execute("SELECT doc_id, story_id FROM story_docs").fetchall())
    for i in range(30):
        assert rows[f"w1-{i}"] == rows[f"w2-{i}"]  # one story, whichever worker came first


def test_an_index_written_before_integer_band_keys_is_carried_over(tmp_path: Path) -> None:
    import sqlite3

    from finsentry.store.migrations import MIGRATIONS

    path = tmp_path / "old.db"
    old = sqlite3.connect(path)  # a file at schema 32: band keys as text, members by doc id
    old.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, at REAL)")
    for version in sorted(v for v in MIGRATIONS if v <= 32):
        old.executescript(MIGRATIONS[version])
        old.execute("INSERT INTO schema_migrations VALUES (?, 0)", (version,))
    first = Signature.of("UPDATE 1-Apple beats quarterly revenue estimates")
    old.execute("INSERT INTO story_members VALUES ('a', 'a', ?, ?)", (T0.timestamp(), " ".join(first.words)))
    old.executemany("INSERT INTO story_bands VALUES (?, 'a')", [(b,) for b in first.bands])
    old.commit()
    old.close()
    db = SqliteDatabase(path)
    tables = {r[0] for r in db.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"story_docs", "story_keys"} <= tables and not {"story_members", "story_bands"} & tables
    assert db.conn.execute("SELECT count(*) FROM story_keys").fetchone()[0] == len(first.bands)
    index = SqliteStoryIndex(db)
    copy = doc("b", "Apple beats quarterly revenue estimates - Reuters", T0 + timedelta(minutes=5))
    assert index.assign([copy])[0].story_id == "a"  # the copy finds the story stored before the upgrade
    assert index.assign([doc("a", "UPDATE 1-Apple beats quarterly revenue estimates", T0)])[0].story_id == "a"
