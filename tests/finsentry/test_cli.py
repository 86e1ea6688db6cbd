"""The CLI at its boundaries: bad configuration and bad label files fail clearly, before any work."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from models.registry import ModelRegistry
from tests.models.conftest import clone_version


def _cli(*args: str, env: dict[str, str] | None = None, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "finsentry.app.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def test_bad_label_file_is_refused_before_training(tmp_path: Path) -> None:
    labels = tmp_path / "new.jsonl"
    labels.write_text('{"text": "Acme soars", "sentiment": "up"}\n{"text": "ok", "topic": "Macro"}\n{oops\n')
    registry = tmp_path / "registry"
    done = _cli("train", "--labels", str(labels), env={"FINSENTRY_MODEL__REGISTRY": str(registry)})
    assert done.returncode == 1
    assert "new.jsonl:1: unknown sentiment label 'up'" in done.stderr
    assert "new.jsonl:3: malformed JSON" in done.stderr
    assert not registry.exists()  # nothing trained, nothing written


def test_unknown_base_teacher_or_init_is_refused_before_training(tmp_path: Path) -> None:
    registry = tmp_path / "registry"
    env = {"FINSENTRY_MODEL__REGISTRY": str(registry), "FINSENTRY_HOME": str(tmp_path / "home")}
    done = _cli("train", "--base", "bert-large", env=env)
    assert done.returncode == 1
    assert "unknown base 'bert-large'; choose one of minilm, mpnet" in done.stderr
    done = _cli("train", "--teacher", "20990101-000000-nope", env=env)
    assert done.returncode == 1
    assert "unknown model version '20990101-000000-nope'" in done.stderr
    done = _cli("train", "--init", "20990101-000000-gone", env=env)
    assert done.returncode == 1
    assert "unknown model version '20990101-000000-gone'" in done.stderr
    assert not registry.exists()


def test_bad_configuration_names_the_field() -> None:
    done = _cli("stats", env={"FINSENTRY_WORKER__BATCH_SIZE": "zero"})
    assert done.returncode == 2
    assert "batch_size" in done.stderr


def test_unknown_model_version_is_one_clear_line(tmp_path: Path) -> None:
    done = _cli(
        "predict",
        "--model",
        "nope",
        stdin=json.dumps({"id": 1, "text": "x"}),
        env={"FINSENTRY_MODEL__REGISTRY": str(tmp_path)},
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        "finsentry: unknown model version 'nope'; see `finsentry models list`"
    )


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_predict_on_a_missing_gpu_is_one_clear_line(tmp_path: Path) -> None:
    env = {"FINSENTRY_MODEL__REGISTRY": str(tmp_path), "FINSENTRY_MODEL__DEVICE": "cuda"}
    done = _cli("predict", stdin=json.dumps({"id": 1, "text": "Acme beats estimates"}), env=env)
    assert done.returncode == 1 and done.stdout == ""
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("finsentry: torch device 'cuda' is not available")


def test_bad_ensemble_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    registry = tmp_path / "registry"
    env = {"FINSENTRY_MODEL__REGISTRY": str(registry), "FINSENTRY_HOME": str(tmp_path / "home")}
    done = _cli("models", "ensemble", "a", "b", "--sentiment-weights", "1,x", env=env)
    assert done.returncode == 2 and "comma-separated numbers" in done.stderr
    done = _cli("models", "ensemble", "a", "b", "--topic-weights", "1,2,3", env=env)
    assert done.returncode == 1 and "topic: 3 weights for 2 members" in done.stderr
    done = _cli("models", "ensemble", "20990101-000000-nope", "20990101-000000-gone", env=env)
    assert done.returncode == 1 and "unknown model version '20990101-000000-nope'" in done.stderr
    assert not registry.exists()


def test_new_version_report_is_the_only_thing_on_stdout(tmp_path: Path) -> None:
    """`make accurate-tier` chains versions by parsing this report: logs and progress go to stderr."""
    registry = ModelRegistry(tmp_path / "registry")
    names = [clone_version(registry, "sharp", 0.5), clone_version(registry, "flat", 4.0)]
    env = {"FINSENTRY_MODEL__REGISTRY": str(registry.root), "FINSENTRY_HOME": str(tmp_path / "home")}
    done = _cli("models", "ensemble", *names, "--sentiment-weights", "1,0", env=env)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["gate"] == "passes" and set(report["metrics"]) == {"sentiment", "topic"}
    listed = json.loads(_cli("models", "list", env=env).stdout)
    assert report["version"] in {row["version"] for row in listed} - set(names)
