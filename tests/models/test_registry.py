from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from finsentry.errors import ModelError, PromotionRefused
from models.registry import ModelRegistry


@pytest.fixture
def make_version(tmp_path: Path) -> Callable[..., str]:
    """Write a version folder with given metrics (the registry reads only meta.json)."""

    def factory(name: str, sentiment: float, topic: float, where: str = "runtime", n: int = 1000) -> str:
        d = tmp_path / where / name
        d.mkdir(parents=True)
        meta = {
            "version": name,
            "created": name,
            "metrics": {"sentiment": {"weighted_f1": sentiment, "n": n}, "topic": {"weighted_f1": topic, "n": n}},
        }
        (d / "meta.json").write_text(json.dumps(meta))
        return name

    return factory


@pytest.fixture
def registry(tmp_path: Path) -> ModelRegistry:
    return ModelRegistry(tmp_path / "runtime", bundled=tmp_path / "bundled")


def test_current_defaults_to_newest_bundled(registry: ModelRegistry, make_version: Callable[..., str]) -> None:
    with pytest.raises(ModelError, match="no model version"):
        registry.current()
    make_version("2026-01", 0.85, 0.85, where="bundled")
    make_version("2026-02", 0.86, 0.86, where="bundled")
    make_version("2026-03", 0.99, 0.99)  # trained but not promoted
    assert registry.current().name == "2026-02"


def test_gate_refuses_worse_beyond_noise_accepts_within_noise(
    registry: ModelRegistry, make_version: Callable[..., str]
) -> None:
    make_version("a", 0.88, 0.87, where="bundled")
    make_version("slightly-worse", 0.875, 0.868)  # within 2 standard errors of n=1000
    make_version("worse-topic", 0.89, 0.80)
    assert registry.promote("slightly-worse").name == "slightly-worse"
    with pytest.raises(PromotionRefused, match=r"topic weighted F1 0\.8000"):
        registry.promote("worse-topic")
    assert registry.current().name == "slightly-worse"
    assert registry.promote("worse-topic", force=True).name == "worse-topic"


def test_rollback_walks_back_the_promotion_history(registry: ModelRegistry, make_version: Callable[..., str]) -> None:
    make_version("a", 0.80, 0.80, where="bundled")
    make_version("b", 0.85, 0.85)
    make_version("c", 0.90, 0.90)
    with pytest.raises(ModelError, match="nothing to roll back"):
        registry.rollback()
    registry.promote("b")
    registry.promote("c")
    assert registry.rollback().name == "b"
    assert registry.current().name == "b"
    assert registry.rollback().name == "a"
    with pytest.raises(ModelError, match="unknown model version 'zzz'"):
        registry.promote("zzz")


def test_a_version_both_trained_and_bundled_is_listed_once(
    registry: ModelRegistry, make_version: Callable[..., str]
) -> None:
    make_version("v1", 0.85, 0.85, where="bundled")
    make_version("v1", 0.85, 0.85)  # the same version still in the runtime registry
    make_version("v2", 0.86, 0.86)
    assert [v.name for v in registry.versions()] == ["v1", "v2"]
    assert registry.get("v1").path.parent == registry.bundled
