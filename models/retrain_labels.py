"""New labels for a retraining run: the label store's corrections and dropped label files.

"New" means added since the current version's run collected its labels: store labels by
creation time (the cutoff that run recorded), label files by content hash (a file whose
SHA-256 a past run consumed is not new again, whatever its name or modification time).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from finsentry.protocols import LabelStore
from finsentry.schemas import Label
from models.dataset import IGNORE, Example, load_label_file
from models.labels import SENTIMENTS, TOPICS

log = logging.getLogger(__name__)
LABEL_SUFFIXES = (".jsonl", ".json", ".csv")


@dataclass(frozen=True)
class NewLabel:
    """One label with where it came from; ``id`` decides its side of the hold-out split."""

    id: str
    source: str  # "dashboard" (a store label's own source) or "file:<name>"
    example: Example
    new: bool = True  # False: collected again only because the run trains from the base


@dataclass
class Collected:
    """Every label a run uses, the files it consumed, and the store cutoff it read up to."""

    labels: list[NewLabel] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)  # SHA-256 -> file name, cumulative over runs
    until: datetime = field(default_factory=lambda: datetime.now(UTC))
    skipped: int = 0  # store labels naming a class the model does not have

    @property
    def new(self) -> list[NewLabel]:
        """Labels added since the current version's run."""
        return [x for x in self.labels if x.new]

    def counts(self) -> dict[str, int]:
        """New labels per source."""
        out: dict[str, int] = {}
        for x in self.new:
            out[x.source] = out.get(x.source, 0) + 1
        return dict(sorted(out.items()))


def _index(value: str | None, names: Sequence[str]) -> int | None:
    """The class index, IGNORE for no label, None for a name the model does not know."""
    if value is None or value == "":
        return IGNORE
    return names.index(value) if value in names else None


def label_example(label: Label) -> Example | None:
    """A store label as a training row; None when it names an unknown class or no class at all."""
    sentiment, topic = _index(label.sentiment, SENTIMENTS), _index(label.topic, TOPICS)
    if sentiment is None or topic is None or (sentiment == IGNORE and topic == IGNORE) or not label.text.strip():
        return None
    return Example(label.text, sentiment=sentiment, topic=topic)


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def label_files(labels_dir: Path) -> list[Path]:
    """Label files in the drop folder, by name."""
    if not labels_dir.is_dir():
        return []
    return sorted(p for p in labels_dir.iterdir() if p.is_file() and p.suffix.lower() in LABEL_SUFFIXES)


def read_files(files: Iterable[Path], consumed: dict[str, str]) -> tuple[list[NewLabel], dict[str, str]]:
    """Parse every label file; each row's id is its file's hash and line position.

    Raises:
        LabelFileError: a file holds malformed lines (all of them named, with line numbers).
    """
    out: list[NewLabel] = []
    digests: dict[str, str] = {}
    for path in files:
        digest = _file_digest(path)
        rows = load_label_file(path)
        new = digest not in consumed
        out += [NewLabel(f"{digest[:16]}:{i}", f"file:{path.name}", ex, new) for i, ex in enumerate(rows)]
        digests[digest] = path.name
    return out, digests


def collect(
    store: LabelStore | None, labels_dir: Path, last_run: dict[str, Any], everything: bool = False
) -> Collected:
    """Labels since the last run (``last_run``: the current version's ``retrain`` meta, or ``{}``).

    Args:
        store: the label store (None: files only).
        labels_dir: the drop folder of label files.
        last_run: what the current version's run recorded (``until``, ``label_files``).
        everything: also return older labels (marked not new), for a run from the base encoder.

    Raises:
        LabelFileError: a label file is malformed.
    """
    consumed: dict[str, str] = dict(last_run.get("label_files", {}))
    since = datetime.fromisoformat(last_run["until"]) if last_run.get("until") else None
    got = Collected()
    files, digests = read_files(label_files(labels_dir), consumed)
    got.labels += [x for x in files if x.new or everything]
    got.files = {**consumed, **digests}
    for label in store.labels(None if everything else since) if store is not None else []:
        example = label_example(label)
        if example is None:
            got.skipped += 1
            continue
        is_new = since is None or label.created_at >= since
        got.labels.append(NewLabel(label.id, label.source or "dashboard", example, is_new))
    got.labels = dedupe(got.labels)
    if got.skipped:
        log.warning("%d stored labels name no known class and were skipped", got.skipped)
    return got


def dedupe(labels: Sequence[NewLabel]) -> list[NewLabel]:
    """One label per text: a later label overrides the heads it names and lends its id."""
    by_text: dict[str, NewLabel] = {}
    for x in labels:
        key = x.example.text.strip()
        old = by_text.get(key)
        if old is None:
            by_text[key] = x
            continue
        ex = Example(
            x.example.text,
            x.example.sentiment if x.example.sentiment != IGNORE else old.example.sentiment,
            x.example.topic if x.example.topic != IGNORE else old.example.topic,
        )
        by_text[key] = replace(x, example=ex, new=x.new or old.new)
    return list(by_text.values())


def is_held_out(label_id: str, percent: int) -> bool:
    """Deterministic hold-out by label id: the same label is on the same side in every run."""
    digest = hashlib.sha256(label_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") % 100 < percent


def holdout(labels: Sequence[NewLabel], percent: int) -> tuple[list[NewLabel], list[NewLabel]]:
    """Split into (train, held out); held-out labels are never trained on."""
    train: list[NewLabel] = []
    held: list[NewLabel] = []
    for x in labels:
        (held if is_held_out(x.id, percent) else train).append(x)
    return train, held
