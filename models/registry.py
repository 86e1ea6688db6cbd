"""Versioned model registry with a ``current`` pointer, a promotion gate and rollback.

Versions live in two places: ``bundled`` (committed to git, read-only; the default model
a fresh clone scores with) and ``root`` (runtime state: trained versions and pointers).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from finsentry.errors import ModelError, PromotionRefused

BUNDLED_DIR = Path(__file__).resolve().parent / "bundled"
HEADS = ("sentiment", "topic")


@dataclass(frozen=True)
class VersionInfo:
    """A version's name, folder and recorded metrics."""

    name: str
    path: Path
    meta: dict[str, Any]

    def f1(self, head: str) -> float:
        """Weighted F1 of ``head`` on the fixed validation split."""
        return float(self.meta["metrics"][head]["weighted_f1"])

    def n_val(self, head: str) -> int:
        """How many validation rows ``head`` was measured on."""
        return int(self.meta["metrics"][head]["n"])


def noise_margin(f1: float, n: int) -> float:
    """Two binomial standard errors: a drop smaller than this is noise, not regression."""
    return 2.0 * math.sqrt(max(f1 * (1 - f1), 1e-6) / max(n, 1))


class ModelRegistry:
    """Lists, resolves, promotes and rolls back model versions."""

    def __init__(self, root: Path, bundled: Path = BUNDLED_DIR) -> None:
        self.root = root
        self.bundled = bundled

    def _dirs(self) -> list[Path]:
        found: dict[str, Path] = {}
        for base in (self.bundled, self.root):
            if base.is_dir():
                # a trained version later committed as the default is one version: the bundled copy wins
                for p in base.iterdir():
                    if (p / "meta.json").is_file():
                        found.setdefault(p.name, p)
        return list(found.values())

    def versions(self) -> list[VersionInfo]:
        """All complete versions, oldest first."""
        infos = [self._info(p) for p in self._dirs()]
        return sorted(infos, key=lambda v: (v.meta.get("created", ""), v.name))

    @staticmethod
    def _info(path: Path) -> VersionInfo:
        meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
        return VersionInfo(meta["version"], path, meta)

    def get(self, name: str) -> VersionInfo:
        """Resolve a version by name.

        Raises:
            ModelError: no such version.

        """
        for path in self._dirs():
            if path.name == name:
                return self._info(path)
        raise ModelError(f"unknown model version {name!r}; see `finsentry models list`")

    def _history(self) -> list[str]:
        path = self.root / "history.json"
        return list(json.loads(path.read_text())) if path.is_file() else []

    def _write_history(self, history: list[str]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / "history.json.tmp"
        tmp.write_text(json.dumps(history))
        tmp.replace(self.root / "history.json")  # atomic: workers may read it at any time

    def current(self) -> VersionInfo:
        """The promoted version, else the newest bundled one."""
        history = self._history()
        if history:
            return self.get(history[-1])
        bundled = [v for v in self.versions() if v.path.parent == self.bundled]
        if not bundled:
            raise ModelError("no model version: train one with `finsentry train`")
        return bundled[-1]

    def judge(self, candidate: VersionInfo, current: VersionInfo) -> list[str]:
        """Reasons the candidate is worse than current beyond noise (empty when fine)."""
        reasons = []
        for head in HEADS:
            cur, new = current.f1(head), candidate.f1(head)
            margin = noise_margin(cur, current.n_val(head))
            if new < cur - margin:
                reasons.append(f"{head} weighted F1 {new:.4f} < current {cur:.4f} - noise {margin:.4f}")
        return reasons

    def promote(self, name: str, force: bool = False) -> VersionInfo:
        """Make ``name`` current unless the gate refuses it.

        Raises:
            PromotionRefused: the candidate is worse per head beyond noise and not forced.

        """
        candidate = self.get(name)
        try:
            current: VersionInfo | None = self.current()
        except ModelError:
            current = None  # nothing to compare with: the first version is promoted as it is
        if current is not None and not force and candidate.name != current.name:
            reasons = self.judge(candidate, current)
            if reasons:
                raise PromotionRefused(f"refused {name}: " + "; ".join(reasons) + " (use --force)")
        history = self._history() or ([current.name] if current else [])
        self._write_history([*history, candidate.name])
        return candidate

    def rollback(self) -> VersionInfo:
        """Return to the version promoted before the current one.

        Raises:
            ModelError: nothing to roll back to.

        """
        history = self._history()
        if len(history) < 2:
            raise ModelError("nothing to roll back to")
        self._write_history(history[:-1])
        return self.get(history[-2])

    def new_version_dir(self, data_hash: str) -> Path:
        """A fresh folder named by time and the training data's hash."""
        name = time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + data_hash[:8]
        path = self.root / name
        path.mkdir(parents=True, exist_ok=False)
        return path
