"""Ensemble versions: a registry version whose scores average other versions' per head.

Two different encoders make different errors: mpnet + MiniLM scores 1.7 points of topic F1
above either alone (docs/benchmarks.md), while for sentiment the weaker MiniLM only pulls
mpnet down. So each head has its own member weights. An ensemble folder holds just a
``meta.json`` (``kind: ensemble``, the members, the weights, the metrics) and a card; its
members stay where they are in the registry. It is judged by the promotion gate like any
version, scores text locally (``predict``, the stream's local classifier) and cannot be
served to Triton clients, which send one tokenizer's ids.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from finsentry.errors import ModelError
from finsentry.settings import GpuDtype, Precision
from models.onnx_scorer import HeadScores, OnnxScorer, Scorer
from models.registry import HEADS, ModelRegistry

KIND = "ensemble"


def is_ensemble(meta: Mapping[str, Any]) -> bool:
    """Whether a version's ``meta.json`` describes an ensemble."""
    return meta.get("kind") == KIND


def check_weights(members: Sequence[str], weights: Mapping[str, Sequence[float]]) -> dict[str, list[float]]:
    """Validate per-head member weights and normalise each head's to sum to 1.

    Raises:
        ModelError: fewer than two distinct members, a count that does not match the members,
            a negative or non-finite weight, or a head whose weights are all zero. A head
            left out of ``weights`` weighs its members equally.
    """
    if len(members) < 2 or len(set(members)) != len(members):
        raise ModelError("an ensemble needs at least two distinct member versions")
    out = {}
    for head in HEADS:
        w = [float(x) for x in weights.get(head, [1.0] * len(members))]
        if len(w) != len(members):
            raise ModelError(f"{head}: {len(w)} weights for {len(members)} members")
        if any(x < 0 or not np.isfinite(x) for x in w) or sum(w) <= 0:
            raise ModelError(f"{head}: weights must be finite, non-negative and not all zero, not {w}")
        out[head] = [x / sum(w) for x in w]
    return out


class EnsembleScorer:
    """Weighted average of its members' calibrated probabilities, head by head.

    Args:
        meta: the ensemble's ``meta.json``.
        members: one scorer per member, in ``meta["members"]`` order.
    """

    def __init__(self, meta: dict[str, Any], members: Sequence[Scorer]) -> None:
        self.meta = meta
        self.version: str = meta["version"]
        self.members = list(members)
        self.weights = check_weights([m.version for m in self.members], meta["weights"])

    def score(self, texts: Sequence[str]) -> HeadScores:
        """Calibrated probabilities in input order.

        A member weighted zero on both heads is not run: it would cost a full encoder pass
        per text for nothing.
        """
        s: Any = 0.0
        t: Any = 0.0
        for member, ws, wt in zip(self.members, self.weights["sentiment"], self.weights["topic"], strict=True):
            if ws or wt:
                part = member.score(texts)
                s, t = s + ws * part.sentiment, t + wt * part.topic
        return HeadScores(np.asarray(s), np.asarray(t))

    def score_ids(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> HeadScores:
        """Refused: members may tokenise differently, so one tokenizer's ids cannot feed them all.

        Raises:
            ModelError: always.
        """
        raise ModelError(f"{self.version} is an ensemble: it scores text locally, not token ids from Triton clients")


def open_scorer(
    registry: ModelRegistry,
    name: str,
    threads: int = 0,
    precision: Precision = "int8",
    device: str = "cpu",
    gpu_dtype: GpuDtype = "float16",
    bases_cache: Path = Path("var/bases"),
) -> Scorer:
    """The scorer of registry version ``name``: its model, or its members' average.

    On ``cpu`` a model runs through ONNX Runtime (``threads``, ``precision``); on a GPU
    (``cuda``, ``cuda:N``) through torch in ``gpu_dtype`` (``models/torch_scorer.py``,
    which reads an older version's architecture from its base in ``bases_cache``).

    Raises:
        ModelError: an unknown version or member, an incomplete one, or no such device.
    """

    def one(path: Path) -> Scorer:
        if device == "cpu":
            return OnnxScorer(path, threads=threads, precision=precision)
        from models.torch_scorer import TorchScorer

        return TorchScorer(path, device=device, dtype=gpu_dtype, bases_cache=bases_cache)

    info = registry.get(name)
    if not is_ensemble(info.meta):
        return one(info.path)
    return EnsembleScorer(info.meta, [one(registry.get(m).path) for m in info.meta["members"]])


def build_ensemble(registry: ModelRegistry, members: Sequence[str], weights: Mapping[str, Sequence[float]]) -> Path:
    """Write an evaluated ensemble version of ``members`` to the registry.

    Metrics are measured on the same fixed validation split as every trained version, with
    int8 arithmetic (``metrics``, what the gate compares) and fp32 (``metrics_fp32``).

    Raises:
        ModelError: bad weights, or a member that is unknown or itself an ensemble.
    """
    from models.card import write_ensemble_card
    from models.dataset import load_base, split
    from models.pipeline import evaluate

    normalised = check_weights(members, weights)
    for m in members:
        if is_ensemble(registry.get(m).meta):
            raise ModelError(f"{m} is an ensemble: members must be trained versions")
    spec = json.dumps({"members": list(members), "weights": normalised}, sort_keys=True)
    out = registry.new_version_dir(hashlib.sha256(spec.encode()).hexdigest())
    meta: dict[str, Any] = {
        "version": out.name,
        "kind": KIND,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "members": list(members),
        "weights": normalised,
        "config": {"base": KIND},  # no single tokenizer: the model server never switches to it
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2))  # open_scorer reads it
    val = split(load_base())[1]
    arithmetics: tuple[tuple[str, Precision], ...] = (("metrics", "int8"), ("metrics_fp32", "fp32"))
    for key, precision in arithmetics:
        meta[key] = evaluate(open_scorer(registry, out.name, precision=precision), val)
    (out / "meta.json").write_text(json.dumps(meta, indent=2))
    write_ensemble_card(out, meta)
    return out
