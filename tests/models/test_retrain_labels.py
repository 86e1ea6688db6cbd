"""Collecting new labels for a retraining run: store + dropped files, what is new, the hold-out split."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from finsentry.errors import LabelFileError
from finsentry.schemas import Label
from finsentry.store.sqlite_labels import SqliteLabelStore
from finsentry.store.sqlitedb import SqliteDatabase
from models.dataset import IGNORE
from models.labels import SENTIMENTS, TOPICS
from models.retrain_labels import collect, dedupe, holdout, is_held_out

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> SqliteLabelStore:
    return SqliteLabelStore(SqliteDatabase(tmp_path / "labels.db"))


def _write(path: Path, rows: list[dict[str, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_new_labels_come_from_the_store_after_the_cutoff_and_from_unconsumed_files(
    store: SqliteLabelStore, tmp_path: Path
) -> None:
    store.add_label(Label(id="old", text="Acme old news", sentiment="neutral", created_at=T0 - timedelta(days=1)))
    store.add_label(Label(id="a", text="Acme misses", sentiment="negative", created_at=T0))
    store.add_label(Label(id="b", text="Acme sues", sentiment="weird", created_at=T0))  # unknown class: skipped
    drop = tmp_path / "drop"
    _write(drop / "one.jsonl", [{"text": "Beta beats", "sentiment": "positive", "topic": "Earnings"}])
    last_run = {"until": T0.isoformat()}
    got = collect(store, drop, last_run)
    assert sorted(x.example.text for x in got.new) == ["Acme misses", "Beta beats"]
    assert got.counts() == {"dashboard": 1, "file:one.jsonl": 1} and got.skipped == 1
    beta = next(x for x in got.new if x.source.startswith("file:"))
    assert beta.example.sentiment == SENTIMENTS.index("positive") and beta.example.topic == TOPICS.index("Earnings")
    # a run that consumed the file (by content, whatever its name) does not collect it again
    (drop / "one.jsonl").rename(drop / "renamed.jsonl")
    again = collect(store, drop, {"until": T0.isoformat(), "label_files": got.files})
    assert [x.example.text for x in again.new] == ["Acme misses"]
    # from the base: older labels come too, but only new ones count as new
    everything = collect(store, drop, {"until": T0.isoformat(), "label_files": got.files}, everything=True)
    assert len(everything.labels) == 3 and len(everything.new) == 1


def test_a_bad_label_file_is_refused_with_its_line_numbers(store: SqliteLabelStore, tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    (drop).mkdir()
    (drop / "bad.jsonl").write_text(
        json.dumps({"text": "ok", "sentiment": "positive"})
        + "\n{not json\n"
        + json.dumps({"text": "x", "topic": "Nope"}),
        encoding="utf-8",
    )
    with pytest.raises(LabelFileError, match=r"bad\.jsonl:2: malformed JSON[\s\S]*bad\.jsonl:3: unknown topic"):
        collect(store, drop, {})


def test_a_later_label_of_the_same_text_overrides_the_heads_it_names(store: SqliteLabelStore, tmp_path: Path) -> None:
    store.add_label(Label(id="1", text="Gamma guides lower", sentiment="neutral", topic="Earnings", created_at=T0))
    store.add_label(Label(id="2", text=" Gamma guides lower ", sentiment="negative", created_at=T0 + timedelta(1)))
    (got,) = dedupe(collect(store, tmp_path / "none", {}).labels)
    assert got.id == "2" and got.example.sentiment == SENTIMENTS.index("negative")
    assert got.example.topic == TOPICS.index("Earnings") != IGNORE


@given(st.lists(st.text(min_size=1, max_size=20), min_size=1, max_size=200, unique=True), st.integers(1, 90))
def test_the_hold_out_split_is_a_partition_decided_by_id_alone(ids: list[str], percent: int) -> None:
    from models.dataset import Example
    from models.retrain_labels import NewLabel

    labels = [NewLabel(i, "dashboard", Example(f"text {i}", sentiment=0)) for i in ids]
    train, held = holdout(labels, percent)
    assert sorted(x.id for x in train + held) == sorted(ids)
    assert all(is_held_out(x.id, percent) for x in held) and not any(is_held_out(x.id, percent) for x in train)
    assert holdout(list(reversed(labels)), percent)[1] == list(reversed(held))  # order does not matter


def test_about_the_configured_share_is_held_out() -> None:
    held = sum(is_held_out(f"label-{i}", 20) for i in range(5000))
    assert 900 < held < 1100
