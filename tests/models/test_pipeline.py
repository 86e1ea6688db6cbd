"""The real training pipeline on a small slice: train, calibrate, export, evaluate, register, gate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from models import pipeline
from models.bases import DEFAULT_BASE, base_dir
from models.dataset import Example, load_base
from models.registry import ModelRegistry
from models.train import TrainConfig


@pytest.fixture
def small_base(monkeypatch: pytest.MonkeyPatch) -> list[Example]:
    rows = load_base()
    small = rows[:150] + rows[-250:]
    monkeypatch.setattr(pipeline, "load_base", lambda: small)
    return small


def test_build_version_writes_a_complete_judged_version(small_base: list[Example], tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path / "reg", bundled=tmp_path / "none")
    extra = [Example("Acme declares special dividend of $2 a share", sentiment=2, topic=4)] * 3
    cfg = TrainConfig(epochs=1, batch_size=16)
    out = pipeline.build_version(registry, cfg, base_dir(DEFAULT_BASE, tmp_path), extra, label_source="x.jsonl")
    for name in ("model.onnx", "meta.json", "card.md", "tokenizer/tokenizer.json", "weights.pt"):
        assert (out / name).exists(), name
    meta = json.loads((out / "meta.json").read_text())
    assert meta["data"]["new_labels"] == 3 and len(meta["data"]["hash"]) == 64
    assert meta["config"]["base"] == "minilm" and meta["base_model"].startswith("all-MiniLM-L6-v2")
    assert set(meta["metrics"]) == {"sentiment", "topic"}
    assert meta["metrics"]["sentiment"]["n"] > 0 and 0 <= meta["metrics"]["topic"]["weighted_f1"] <= 1
    assert meta["temperatures"]["sentiment"] > 0
    assert "Limits" in (out / "card.md").read_text()
    info = registry.get(out.name)
    assert registry.promote(info.name).name == info.name  # first version: nothing to judge against
    assert (out / "model.onnx").stat().st_size < 25 * 1024 * 1024


def test_a_student_version_records_its_teacher(small_base: list[Example], tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path / "reg")  # the bundled default is the teacher
    teacher = registry.current()
    cfg = TrainConfig(epochs=1, batch_size=16, distill=1.0)
    out = pipeline.build_version(registry, cfg, base_dir(DEFAULT_BASE, tmp_path), teacher=teacher.path)
    meta = json.loads((out / "meta.json").read_text())
    assert meta["teacher"] == teacher.name and meta["config"]["distill"] == 1.0
    assert f"distilled from version `{teacher.name}`" in (out / "card.md").read_text()
