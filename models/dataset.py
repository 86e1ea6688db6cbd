"""Labelled examples: the vendored base data, new label files, and the fixed split."""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from finsentry.errors import LabelFileError
from models.labels import DATA_DIR, SENTIMENT_FROM_CSV, SENTIMENTS, TOPICS

IGNORE = -100  # the "no label for this head" marker that cross-entropy skips
VALIDATION_BUCKETS = 10  # 1 in 10 distinct texts is validation


@dataclass(frozen=True)
class Example:
    """One labelled headline; a head without a label holds ``IGNORE``."""

    text: str
    sentiment: int = IGNORE
    topic: int = IGNORE


def is_validation(text: str) -> bool:
    """Put a text in the fixed validation split by a hash of its content.

    A content hash (not a shuffled index) keeps the split fixed when new labels are
    merged in, so metrics of two versions stay comparable.
    """
    digest = hashlib.sha256(text.strip().lower().encode("utf-8")).digest()
    return digest[0] % VALIDATION_BUCKETS == 0


def load_base(data_dir: Path = DATA_DIR) -> list[Example]:
    """Load the vendored sentiment and topic training sets."""
    out: list[Example] = []
    with (data_dir / "sentiment" / "train.csv").open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            out.append(Example(row["text"], sentiment=SENTIMENT_FROM_CSV[int(row["label"])]))
    with (data_dir / "topic" / "train.csv").open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            out.append(Example(row["text"], topic=int(row["label"])))
    return out


def _label_index(value: object, names: tuple[str, ...], head: str, where: str) -> int:
    if value is None or value == "":
        return IGNORE
    if isinstance(value, str) and value in names:
        return names.index(value)
    raise LabelFileError(f"{where}: unknown {head} label {value!r}; expected one of {list(names)}")


def _rows(path: Path) -> Iterator[tuple[int, dict[str, object] | LabelFileError]]:
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".csv":
        for i, row in enumerate(csv.DictReader(text.splitlines()), start=2):
            yield i, dict(row)
        return
    for i, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            yield i, LabelFileError(f"{path.name}:{i}: malformed JSON ({exc.msg})")
            continue
        yield i, obj if isinstance(obj, dict) else LabelFileError(f"{path.name}:{i}: expected a JSON object")


def load_label_file(path: Path) -> list[Example]:
    """Parse a label file (JSON lines or CSV with ``text``, ``sentiment`` and/or ``topic``).

    Every line is checked before anything is returned: errors name all bad lines.

    Raises:
        LabelFileError: a line is malformed, lacks text, or names an unknown label.

    """
    problems: list[str] = []
    out: list[Example] = []
    try:
        rows = list(_rows(path))
    except UnicodeDecodeError as exc:
        raise LabelFileError(f"{path.name}: not UTF-8 ({exc.reason})") from exc
    for line_no, row in rows:
        where = f"{path.name}:{line_no}"
        if isinstance(row, LabelFileError):
            problems.append(str(row))
            continue
        try:
            out.append(_example_from_row(row, where))
        except LabelFileError as exc:
            problems.append(str(exc))
    if problems:
        raise LabelFileError("refused label file:\n" + "\n".join(problems))
    return out


def _example_from_row(row: dict[str, object], where: str) -> Example:
    text = row.get("text")
    if not isinstance(text, str) or not text.strip():
        raise LabelFileError(f"{where}: missing or empty 'text'")
    sentiment = _label_index(row.get("sentiment"), SENTIMENTS, "sentiment", where)
    topic = _label_index(row.get("topic"), TOPICS, "topic", where)
    if sentiment == IGNORE and topic == IGNORE:
        raise LabelFileError(f"{where}: needs a 'sentiment' or a 'topic' label")
    return Example(text, sentiment=sentiment, topic=topic)


def split(examples: Iterable[Example]) -> tuple[list[Example], list[Example]]:
    """Split into (train, validation) by the fixed content hash."""
    train: list[Example] = []
    val: list[Example] = []
    for ex in examples:
        (val if is_validation(ex.text) else train).append(ex)
    return train, val


def data_hash(examples: Iterable[Example]) -> str:
    """A SHA-256 over every example, to record exactly what a version was trained on."""
    h = hashlib.sha256()
    for ex in examples:
        h.update(f"{ex.text}\x1f{ex.sentiment}\x1f{ex.topic}\x1e".encode())
    return h.hexdigest()
