"""A live Triton model repository: each promoted version goes in as the next numbered folder."""

from __future__ import annotations

from pathlib import Path

import onnx

from models.registry import ModelRegistry
from models.triton_export import export_next_version, export_repository
from tests.models.conftest import clone_version


def test_versions_are_added_as_numbered_folders_for_a_polling_triton(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path / "reg")
    first = registry.current()
    second = registry.get(clone_version(registry, "second", sentiment_temperature=2.0))
    repo = tmp_path / "repo"
    model_dir = export_repository(first.path, repo)  # what the stack's model-export writes first
    assert export_next_version(second.path, repo) == model_dir / "2"
    config = (model_dir / "config.pbtxt").read_text()
    assert "version_policy: { latest: { num_versions: 1 } }" in config and 'string_value: "second"' in config
    graph = onnx.load(str(model_dir / "2" / "model.onnx"))
    version = next(i for i in graph.graph.initializer if i.name == "version_1x1")
    assert version.string_data == [b"second"]  # the served answers name the new version
    assert export_next_version(first.path, repo) == model_dir / "3"  # a rollback is a new number too
    assert sorted(p.name for p in model_dir.iterdir()) == ["2", "3", "config.pbtxt"]  # two kept, no staging left
