"""Warm start (``train --init VERSION``): continue a version's weights with a fresh schedule."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from finsentry.errors import ModelError
from models import pipeline
from models.bases import DEFAULT_BASE, base_dir
from models.dataset import Example, load_base
from models.registry import ModelRegistry
from models.train import TrainConfig, save_checkpoint, train_model


@pytest.fixture
def rows() -> list[Example]:
    base = load_base()
    return base[:24] + base[-24:]


@pytest.fixture
def trained(rows: list[Example], tmp_path: Path) -> Path:
    model, _ = train_model(rows, TrainConfig(epochs=1, batch_size=16, seed=1), base_dir(DEFAULT_BASE, tmp_path))
    path = tmp_path / "weights.pt"
    save_checkpoint(model, path)
    return path


def test_a_warm_start_begins_from_the_saved_weights(rows: list[Example], trained: Path, tmp_path: Path) -> None:
    # lr ~0: the continued model must be the saved one, not the bare base with fresh heads
    cfg = TrainConfig(epochs=1, batch_size=16, lr=1e-12, seed=2)
    warm, _ = train_model(rows, cfg, base_dir(DEFAULT_BASE, tmp_path), init=trained)
    cold, _ = train_model(rows, cfg, base_dir(DEFAULT_BASE, tmp_path))
    saved = torch.load(trained, map_location="cpu")
    head = "sentiment.weight"
    assert torch.allclose(warm.state_dict()[head], saved[head], atol=1e-6)
    assert not torch.allclose(cold.state_dict()[head], saved[head], atol=1e-3)


def _version(registry: ModelRegistry, name: str, base: str, weights: Path | None) -> Path:
    dst = registry.root / name
    shutil.copytree(registry.current().path, dst)
    meta = json.loads((dst / "meta.json").read_text())
    meta["version"], meta["config"]["base"] = name, base
    (dst / "meta.json").write_text(json.dumps(meta))
    if weights is not None:
        shutil.copy(weights, dst / "weights.pt")
    return dst


def test_init_of_another_base_or_without_weights_is_refused_before_training(tmp_path: Path, trained: Path) -> None:
    registry = ModelRegistry(tmp_path / "reg")
    cfg = TrainConfig(epochs=1)
    other = _version(registry, "other-base", "mpnet", trained)
    with pytest.raises(ModelError, match="as a minilm model"):
        pipeline.build_version(registry, cfg, base_dir(DEFAULT_BASE, tmp_path), init=other)
    with pytest.raises(ModelError, match=r"no fp32 weights\.pt"):
        pipeline.build_version(registry, cfg, base_dir(DEFAULT_BASE, tmp_path), init=registry.current().path)
    assert [v.name for v in registry.versions() if v.path.parent == registry.root] == ["other-base"]


def test_a_continued_version_names_its_parent(trained: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base = load_base()
    monkeypatch.setattr(pipeline, "load_base", lambda: base[:150] + base[-250:])
    registry = ModelRegistry(tmp_path / "reg")
    parent = _version(registry, "parent", DEFAULT_BASE, trained)
    out = pipeline.build_version(
        registry, TrainConfig(epochs=1, batch_size=16), base_dir(DEFAULT_BASE, tmp_path), init=parent
    )
    assert json.loads((out / "meta.json").read_text())["init"] == "parent"
    assert "continued from version `parent`" in (out / "card.md").read_text()
