from __future__ import annotations

from pathlib import Path

import pytest

from finsentry.errors import LabelFileError
from models.dataset import IGNORE, Example, data_hash, is_validation, load_base, load_label_file, split
from models.labels import SENTIMENTS, TOPICS
from models.pipeline import merge


def test_vendored_data_loads_with_both_label_kinds() -> None:
    rows = load_base()
    assert len(rows) == 9543 + 16990
    assert sum(r.sentiment != IGNORE for r in rows) == 9543
    assert sum(r.topic != IGNORE for r in rows) == 16990
    assert len(TOPICS) == 20 and TOPICS[0] == "Analyst Update" and len(SENTIMENTS) == 3


def test_split_is_fixed_by_content_and_about_one_in_ten() -> None:
    rows = load_base()
    train, val = split(rows)
    assert 0.08 < len(val) / len(rows) < 0.12
    assert {r.text for r in val}.isdisjoint({r.text for r in train})
    extra = [Example("a brand new headline about $XYZ", sentiment=0)]
    assert split(rows + extra)[1][: len(val)] == val  # adding labels does not move old rows


def test_label_file_jsonl_and_csv(tmp_path: Path) -> None:
    jl = tmp_path / "new.jsonl"
    jl.write_text('{"text": "Acme soars", "sentiment": "positive"}\n\n{"text": "Fed hikes", "topic": "Macro"}\n')
    rows = load_label_file(jl)
    assert rows == [Example("Acme soars", sentiment=2), Example("Fed hikes", topic=TOPICS.index("Macro"))]
    csv = tmp_path / "new.csv"
    csv.write_text("text,sentiment,topic\nAcme dips,negative,Stock Movement\n")
    assert load_label_file(csv) == [Example("Acme dips", 0, TOPICS.index("Stock Movement"))]


def test_bad_label_files_are_refused_with_every_bad_line_numbered(tmp_path: Path) -> None:
    f = tmp_path / "bad.jsonl"
    f.write_text(
        '{"text": "ok", "sentiment": "positive"}\n'
        '{"text": "x", "sentiment": "bullish"}\n'
        "{broken\n"
        '{"text": "", "topic": "Macro"}\n'
        '{"text": "y"}\n'
    )
    with pytest.raises(LabelFileError) as err:
        load_label_file(f)
    message = str(err.value)
    assert "bad.jsonl:3: malformed JSON" in message
    for n in (2, 4, 5):
        assert f"bad.jsonl:{n}:" in message
    assert "bad.jsonl:1:" not in message


def test_unknown_labels_and_missing_text_each_named(tmp_path: Path) -> None:
    f = tmp_path / "bad.jsonl"
    f.write_text(
        '{"text": "x", "sentiment": "bullish"}\n{"text": "", "topic": "Macro"}\n{"text": "y"}\n'
        '{"text": "z", "topic": "Crypto"}\n'
    )
    with pytest.raises(LabelFileError) as err:
        load_label_file(f)
    message = str(err.value)
    for expected in (
        "bad.jsonl:1: unknown sentiment label 'bullish'",
        "bad.jsonl:2: missing or empty 'text'",
        "bad.jsonl:3: needs a 'sentiment' or a 'topic'",
        "bad.jsonl:4: unknown topic label 'Crypto'",
    ):
        assert expected in message


def test_non_utf8_label_file_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "latin.csv"
    f.write_bytes(b"text,sentiment\nCaf\xe9 chain soars,positive\n")
    with pytest.raises(LabelFileError, match="not UTF-8"):
        load_label_file(f)


def test_merge_new_label_overrides_one_head_and_keeps_the_other() -> None:
    base = [Example("Acme soars", topic=5)]
    merged = merge(base, [Example("Acme soars", sentiment=2)])
    assert merged == [Example("Acme soars", sentiment=2, topic=5)]
    assert data_hash(merged) != data_hash(base)
    assert is_validation("x") == is_validation("x")
