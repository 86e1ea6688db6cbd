"""Score headlines with a registry version's ONNX model through ONNX Runtime."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, get_args

import numpy as np

from finsentry.errors import ModelError
from finsentry.settings import Precision
from models.metrics import softmax
from models.text import normalize

PRECISIONS: tuple[Precision, ...] = get_args(Precision)
TOKENIZE_CHUNK = 256  # texts per tokenizer call: the fast tokenizer's per-call cost dominates single texts


@dataclass(frozen=True)
class HeadScores:
    """Calibrated probabilities of both heads for a batch, rows in input order."""

    sentiment: np.ndarray
    topic: np.ndarray


class Scorer(Protocol):
    """What scores text: one ONNX version (``OnnxScorer``) or an ensemble of them."""

    version: str
    meta: dict[str, Any]

    def score(self, texts: Sequence[str]) -> HeadScores:
        """Calibrated probabilities in input order."""
        ...

    def score_ids(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> HeadScores:
        """Calibrated probabilities for one tokenizer's ids (the model server's path)."""
        ...


def encode_texts(
    tokenizer: Any, texts: Sequence[str], max_length: int, pad_to_multiple_of: int | None = None
) -> dict[str, np.ndarray]:
    """Normalise and tokenise ``texts``, padded to the longest (rounded up to ``pad_to_multiple_of``).

    Returns:
        int64 ``input_ids`` and ``attention_mask``, one row per text.
    """
    enc = tokenizer(
        [normalize(t) for t in texts],
        padding=True,
        truncation=True,
        max_length=max_length,
        pad_to_multiple_of=pad_to_multiple_of,
        return_tensors="np",
    )
    return {name: enc[name].astype(np.int64) for name in ("input_ids", "attention_mask")}


def _usable_cores() -> int:
    """Cores this process may run on (a container's CPU set, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _session(version_dir: Path, precision: Precision) -> Any:
    import onnx
    import onnxruntime as ort

    from models.export import int8_arithmetic

    graph = onnx.load(str(version_dir / "model.onnx"))
    if precision == "int8":
        int8_arithmetic(graph)
    opts = ort.SessionOptions()
    # One thread per call; documents run in parallel instead (see OnnxScorer). Measured on
    # 2 cores: intra-op threads on one ~25-token document mostly wait on each other.
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    # Fold the remaining int8 -> fp32 weight dequantisation once at load (see models/export.py):
    # without this ONNX Runtime keeps the DequantizeLinear nodes and re-runs them on every call.
    opts.add_session_config_entry("session.disable_quant_qdq", "1")
    return ort.InferenceSession(graph.SerializeToString(), opts, providers=["CPUExecutionProvider"])


class OnnxScorer:
    """Tokenise, run the ONNX graph one document per call, apply each head's temperature.

    Each document runs alone, at its own length, so its scores are a function of its text
    only: never of its batch neighbours or their padding. That is what lets ``int8``
    arithmetic (activation scales picked per input tensor) be exact across the local and
    Triton paths. Throughput comes from scoring ``workers`` documents at once instead.

    Args:
        version_dir: a registry version folder (``model.onnx``, ``tokenizer/``, ``meta.json``).
        threads: documents scored in parallel, one core each; 0: one per CPU core.
        precision: ``int8`` (integer matrix products, ~3x faster on CPU) or ``fp32``.

    Raises:
        ModelError: the folder is not a complete version, or the precision is unknown.
    """

    def __init__(self, version_dir: Path, threads: int = 0, precision: Precision = "int8") -> None:
        from transformers import AutoTokenizer

        meta_path = version_dir / "meta.json"
        if not meta_path.is_file() or not (version_dir / "model.onnx").is_file():
            raise ModelError(f"{version_dir} is not a complete model version")
        if precision not in PRECISIONS:
            raise ModelError(f"precision must be one of {PRECISIONS}, not {precision!r}")
        self.meta: dict[str, Any] = json.loads(meta_path.read_text(encoding="utf-8"))
        self.version: str = self.meta["version"]
        self.precision: Precision = precision
        self.max_length: int = int(self.meta.get("max_length", 64))
        self.temperatures: dict[str, float] = self.meta.get("temperatures", {})
        self.workers = threads or _usable_cores()
        # One pool for the scorer's life (not one per call): its idle threads end when a
        # promotion replaces this scorer and it is garbage-collected.
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="onnx-scorer") if self.workers > 1 else None
        self.tokenizer = AutoTokenizer.from_pretrained(str(version_dir / "tokenizer"))
        self.session = _session(version_dir, precision)

    def encode(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Tokenise with dynamic padding to the batch's longest text."""
        return encode_texts(self.tokenizer, texts, self.max_length)

    def _one(self, ids: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        keep = mask.astype(bool)  # drop padding on either side: the document alone
        if not keep.any():
            raise ModelError("a document has no tokens (attention mask all zero)")
        n = int(keep.sum())
        feed = {"input_ids": ids[keep].reshape(1, n), "attention_mask": np.ones((1, n), np.int64)}
        s, t = self.session.run(None, feed)
        return np.asarray(s)[0], np.asarray(t)[0]

    def _run(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ids, mask = input_ids.astype(np.int64), attention_mask.astype(np.int64)
        if len(ids) <= 1 or self._pool is None:
            rows = [self._one(i, m) for i, m in zip(ids, mask, strict=True)]
        else:
            # ONNX Runtime releases the GIL in run(), so these threads use separate cores.
            rows = list(self._pool.map(self._one, ids, mask))
        if not rows:
            return np.zeros((0, 0), np.float32), np.zeros((0, 0), np.float32)
        return np.stack([r[0] for r in rows]), np.stack([r[1] for r in rows])

    def logits(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Raw (sentiment, topic) logits in input order."""
        parts = [self._run(**self.encode(texts[k : k + TOKENIZE_CHUNK])) for k in range(0, len(texts), TOKENIZE_CHUNK)]
        if not parts:
            return np.zeros((0, 0), np.float32), np.zeros((0, 0), np.float32)
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def _calibrated(self, s: np.ndarray, t: np.ndarray) -> HeadScores:
        return HeadScores(
            softmax(s, self.temperatures.get("sentiment", 1.0)), softmax(t, self.temperatures.get("topic", 1.0))
        )

    def score_ids(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> HeadScores:
        """Calibrated probabilities for already tokenised input (the model server's path)."""
        return self._calibrated(*self._run(input_ids, attention_mask))

    def score(self, texts: Sequence[str]) -> HeadScores:
        """Calibrated probabilities in input order; texts must be non-empty."""
        if not texts:
            return HeadScores(np.zeros((0, 3)), np.zeros((0, 0)))
        return self._calibrated(*self.logits(texts))
