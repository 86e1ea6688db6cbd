"""Base encoders: the packaged split archive is joined and unpacked safely; tiers never mix tokenizers."""

from __future__ import annotations

import json
import time
import zipfile
from pathlib import Path

import pytest

from models import bases
from models.bases import BaseUnavailable, base_dir, base_encoder, join_parts, safe_extract, version_base
from models.classifiers import CurrentModel
from models.registry import ModelRegistry
from tests.models.conftest import clone_version


def _split_archive(tmp_path: Path, members: dict[str, bytes], parts: int = 3) -> list[Path]:
    archive = tmp_path / "whole.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    blob = archive.read_bytes()
    step = len(blob) // parts + 1
    out = []
    for i in range(parts):
        part = tmp_path / f"whole.zip.{i + 1:03d}"
        part.write_bytes(blob[i * step : (i + 1) * step])
        out.append(part)
    return out


def test_split_parts_join_and_unpack_to_the_original_files(tmp_path: Path) -> None:
    members = {"all-mpnet-base-v2/config.json": b'{"hidden_size": 768}', "all-mpnet-base-v2/vocab.txt": b"x" * 5000}
    joined = tmp_path / "joined.zip"
    join_parts(_split_archive(tmp_path, members), joined)
    safe_extract(joined, tmp_path / "out")
    for name, data in members.items():
        assert (tmp_path / "out" / name).read_bytes() == data


def test_parts_out_of_order_are_a_clear_error(tmp_path: Path) -> None:
    parts = _split_archive(tmp_path, {"a/config.json": b"{}" * 3000})
    joined = tmp_path / "joined.zip"
    join_parts(list(reversed(parts)), joined)
    with pytest.raises(BaseUnavailable, match="not a valid zip"):
        safe_extract(joined, tmp_path / "out")


@pytest.mark.parametrize("evil", ["../escaped.txt", "/tmp/finsentry-abs-escape.txt", "a/../../escaped.txt"])
def test_a_member_escaping_the_target_is_refused_before_anything_is_written(tmp_path: Path, evil: str) -> None:
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("ok/config.json", b"{}")
        zf.writestr(evil, b"owned")
    with pytest.raises(BaseUnavailable, match="escapes"):
        safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "out" / "ok").exists()
    assert not (tmp_path / "escaped.txt").exists()


def test_unknown_base_names_the_choices(tmp_path: Path) -> None:
    with pytest.raises(BaseUnavailable, match="minilm, mpnet"):
        base_dir("bert-large", tmp_path)


def test_missing_accurate_packages_say_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The extra may be installed on a developer machine: name a package that never is.
    monkeypatch.setattr(bases, "MPNET_PARTS", ("finsentry-no-such-part-001",))
    with pytest.raises(BaseUnavailable, match="make accurate-base"):
        base_dir("mpnet", tmp_path)


def test_minilm_base_is_a_core_dependency(tmp_path: Path) -> None:
    folder = base_dir("minilm", tmp_path)
    assert (folder / "config.json").is_file()
    assert "MiniLM" in base_encoder("minilm").label


def test_versions_from_before_tiers_are_minilm() -> None:
    assert version_base({"config": {"epochs": 5}}) == "minilm"
    assert version_base({"config": {"base": "mpnet"}}) == "mpnet"


def _promote_other_base(registry: ModelRegistry) -> str:
    name = clone_version(registry, "29990101-000000-otherbase", sentiment_temperature=1.0)
    meta_path = registry.root / name / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["config"]["base"] = "mpnet"
    meta_path.write_text(json.dumps(meta))
    registry.promote(name, force=True)
    return name


@pytest.mark.parametrize("keep_base", [True, False])
def test_the_model_server_never_switches_to_another_tokenizer(tmp_path: Path, keep_base: bool) -> None:
    registry = ModelRegistry(tmp_path / "reg")
    model = CurrentModel(registry, reload_seconds=0.01, keep_base=keep_base)
    first = model.get().version
    other = _promote_other_base(registry)
    time.sleep(0.05)
    assert model.get().version == (first if keep_base else other)
