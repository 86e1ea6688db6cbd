"""The retraining job end to end, with tiny training: promoted and followed, refused, too few, failed, locked."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from finsentry.app.cli import app
from finsentry.schemas import Label
from finsentry.store.sqlite import SqliteStore
from finsentry.store.sqlite_labels import SqliteLabelStore
from finsentry.store.sqlitedb import SqliteDatabase
from models import pipeline
from models.classifiers import CurrentModel, OnnxClassifier
from models.dataset import Example, is_validation, load_base
from models.labels import SENTIMENTS, TOPICS
from models.registry import ModelRegistry
from models.retrain import RetrainBusy, RetrainJob, distillation_teacher, retrain_lock, run_retrain, training_start
from models.retrain_labels import collect
from models.train import TrainConfig
from tests.models.conftest import stored_docs

TINY = TrainConfig(epochs=1, batch_size=16, max_length=32)


@pytest.fixture(scope="module")
def base_rows() -> list[Example]:
    return load_base()


@pytest.fixture
def small_base(monkeypatch: pytest.MonkeyPatch, base_rows: list[Example]) -> None:
    """A slice of the base data: 60 training rows (a few steps, not an epoch of 10k rows) and 120
    rows of the fixed validation split, enough for the gate to see a model trained that little."""
    train = [ex for ex in base_rows[:200] + base_rows[-200:] if not is_validation(ex.text)]
    val = [ex for ex in base_rows if is_validation(ex.text)]
    small = train[:30] + train[-30:] + val[:60] + val[-60:]
    monkeypatch.setattr(pipeline, "load_base", lambda: small)


def corrections(base_rows: list[Example], n: int) -> list[dict[str, str]]:
    """A synthetic correction file: real labelled headlines the small base does not hold."""
    out = []
    for ex in base_rows[1000 : 1000 + n // 2] + base_rows[-1000 - n // 2 : -1000]:
        row = {"text": ex.text}
        if ex.sentiment >= 0:
            row["sentiment"] = SENTIMENTS[ex.sentiment]
        if ex.topic >= 0:
            row["topic"] = TOPICS[ex.topic]
        out.append(row)
    return out


@pytest.fixture
def make_job(tmp_path: Path, base_rows: list[Example]) -> Callable[..., RetrainJob]:
    """A job over a fresh registry (current: the bundled version), a SQLite file with stored
    documents and three dashboard corrections, and a drop folder holding a 40-line label file."""
    db = SqliteDatabase(tmp_path / "finsentry.db")
    docs = SqliteStore(db)
    docs.upsert(stored_docs(12))
    labels = SqliteLabelStore(db)
    for i, ex in enumerate(base_rows[2000:2003]):
        labels.add_label(Label(id=f"dash-{i}", text=ex.text, sentiment=SENTIMENTS[ex.sentiment], user="ana"))
    drop = tmp_path / "labels"
    drop.mkdir()
    (drop / "corrections.jsonl").write_text("".join(json.dumps(r) + "\n" for r in corrections(base_rows, 40)))

    def factory(**overrides: object) -> RetrainJob:
        fields: dict[str, object] = {
            "registry": ModelRegistry(tmp_path / "registry"),
            "labels": labels,
            "documents": docs,
            "labels_dir": drop,
            "bases_cache": tmp_path / "bases",
            "lock_path": tmp_path / "retrain.lock",
            "min_labels": 20,
            "triton_repository": tmp_path / "triton",
            "config": TINY,
        }
        fields.update(overrides)
        return RetrainJob(**fields)  # type: ignore[arg-type]

    return factory


def _current_with_f1(registry: ModelRegistry, name: str, f1: float) -> str:
    """A real, servable current version (the bundled files) whose recorded validation F1 is ``f1``.

    The tiny test training measures itself on a few validation rows of a slice of the base
    data; a recorded F1 of 0 is beaten by any trained model, one of 0.99 on 10,000 rows by none.
    """
    dst = registry.root / name
    shutil.copytree(registry.current().path, dst)
    meta = json.loads((dst / "meta.json").read_text())
    meta["version"] = name
    for head in ("sentiment", "topic"):
        meta["metrics"][head].update(weighted_f1=f1, n=10_000)
    (dst / "meta.json").write_text(json.dumps(meta))
    registry.promote(name, force=True)
    return name


def _served_version(classifier: OnnxClassifier) -> str:
    return asyncio.run(classifier.classify(["Acme shares jump after earnings beat"]))[0].model_version


@pytest.mark.timeout(900)
def test_corrections_become_a_promoted_version_that_a_running_classifier_follows(
    small_base: None, make_job: Callable[..., RetrainJob]
) -> None:
    job = make_job()
    old = _current_with_f1(job.registry, "weak-current", 0.0)
    running = OnnxClassifier(CurrentModel(job.registry, reload_seconds=0.2))
    assert _served_version(running) == old

    result = run_retrain(job)

    assert result.status == "promoted", result.message
    new = job.registry.get(result.version or "")
    assert job.registry.current().name == new.name
    time.sleep(0.5)  # past the reload interval: the running classifier swaps without a restart
    assert _served_version(running) == new.name
    report = json.loads((new.path / "retrain.json").read_text())
    labels = report["labels"]
    assert labels["new"] == 43 and labels["sources"] == {"dashboard": 3, "file:corrections.jsonl": 40}
    assert labels["held_out"] + labels["train"] == 43 and labels["held_out"] > 0
    assert report["held_out"]["new"]["sentiment"]["n"] + report["held_out"]["new"]["topic"]["n"] >= labels["held_out"]
    assert report["recent_documents"]["sentiment"]["n"] == 12
    assert set(report["per_class"]["topic"]) == set(TOPICS)
    assert report["gate"] == {"against": old, "promoted": True, "reasons": []}
    assert "no fp32 weights" in report["start"]  # the bundled copy ships int8 only: trained from the base
    card = (new.path / "card.md").read_text()
    assert "## Trained from" in card and "| file:corrections.jsonl | 40 |" in card and ": promoted (" in card
    assert "Held-out new labels" in (new.path / "retrain.md").read_text()
    config = (job.triton_repository / "finsentry" / "config.pbtxt").read_text()  # type: ignore[operator]
    assert f'string_value: "{new.name}"' in config
    assert (job.triton_repository / "finsentry" / "1" / "model.onnx").is_file()  # type: ignore[operator]
    # the next run sees nothing new: the file was consumed, the dashboard labels are before its cutoff
    again = collect(job.labels, job.labels_dir, new.meta.get("retrain") or job.registry.get(new.name).meta["retrain"])
    assert again.new == []
    assert training_start(job.registry.current(), from_base=False)[0] == new.path  # a next run continues it


def test_a_run_from_the_base_learns_the_current_versions_scores(
    small_base: None, make_job: Callable[..., RetrainJob]
) -> None:
    job = make_job(distill=1.0)
    old = _current_with_f1(job.registry, "weak-current", 0.0)
    result = run_retrain(job)
    new = job.registry.get(result.version or "")
    assert new.meta["teacher"] == old  # its scores were the soft targets
    report = json.loads((new.path / "retrain.json").read_text())
    assert "no fp32 weights" in report["start"] and f"distilled from {old} (weight 1)" in report["start"]
    # a version with weights is continued instead, and an ensemble cannot teach: no teacher either way
    assert distillation_teacher(job, job.registry.get(old), init=new.path) is None
    assert distillation_teacher(replace(job, distill=0.0), job.registry.get(old), init=None) is None


@pytest.mark.timeout(900)
def test_a_worse_model_is_refused_and_the_current_keeps_serving(
    small_base: None, make_job: Callable[..., RetrainJob]
) -> None:
    job = make_job()
    current = _current_with_f1(job.registry, "strong-current", 0.99)
    running = OnnxClassifier(CurrentModel(job.registry, reload_seconds=0.2))

    result = run_retrain(job)

    assert result.status == "refused"
    assert "weighted F1" in result.message and f"{current} keeps serving" in result.message
    time.sleep(0.5)
    assert job.registry.current().name == current and _served_version(running) == current
    assert not (job.triton_repository / "finsentry").exists()  # type: ignore[operator]
    refused = job.registry.get(result.version or "")
    report = json.loads((refused.path / "retrain.json").read_text())
    assert report["status"] == "refused" and report["gate"]["promoted"] is False
    assert ": not promoted (sentiment weighted F1" in (refused.path / "card.md").read_text()
    # nothing was consumed: the labels are still new for the next run
    assert len(collect(job.labels, job.labels_dir, job.registry.current().meta.get("retrain", {})).new) == 43


def test_too_few_labels_stop_cleanly_with_the_reason(make_job: Callable[..., RetrainJob], tmp_path: Path) -> None:
    job = make_job(min_labels=50)
    before = {p.name for p in job.registry.root.iterdir()} if job.registry.root.exists() else set()
    result = run_retrain(job)
    assert result.status == "too_few" and "43 new labels" in result.message and "fewer than the 50" in result.message
    after = {p.name for p in job.registry.root.iterdir()} if job.registry.root.exists() else set()
    assert after == before


def test_the_cli_exits_0_with_the_reason_when_labels_are_too_few(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    drop = tmp_path / "home" / "labels"
    drop.mkdir(parents=True)
    (drop / "few.csv").write_text("text,sentiment\nAcme beats,positive\nBeta misses,negative\n")
    env = {"FINSENTRY_HOME": str(tmp_path / "home"), "FINSENTRY_RETRAIN__MIN_LABELS": "5"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    done = CliRunner().invoke(app, ["retrain"])
    assert done.exit_code == 0, done.output
    assert "2 new labels" in done.output and "fewer than the 5 required" in done.output
    (drop / "bad.jsonl").write_text('{"text": "x", "sentiment": "up"}\n')
    refused = CliRunner().invoke(app, ["retrain"])
    assert refused.exit_code != 0 and "bad.jsonl:1: unknown sentiment label 'up'" in str(refused.exception)


def test_a_failed_training_leaves_the_current_model_and_says_why(make_job: Callable[..., RetrainJob]) -> None:
    job = make_job()
    current = _current_with_f1(job.registry, "weak-current", 0.0)
    (job.registry.get(current).path / "weights.pt").write_bytes(b"not a checkpoint")  # continued: loading fails
    result = run_retrain(job)
    assert result.status == "failed" and "training failed" in result.message
    assert f"{current} keeps serving" in result.message and job.registry.current().name == current


def test_two_runs_never_overlap(make_job: Callable[..., RetrainJob]) -> None:
    job = make_job(min_labels=10_000)
    with retrain_lock(job.lock_path), pytest.raises(RetrainBusy, match="another retraining run"):
        run_retrain(job)
    assert run_retrain(job).status == "too_few"  # released: the next run goes ahead
