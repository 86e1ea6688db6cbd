"""Classifier backends that run in-process: the ONNX model and the Naive Bayes baseline."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from finsentry.errors import ModelError
from finsentry.schemas import Prediction
from finsentry.settings import GpuDtype, Precision
from models.baseline import NaiveBayesModel
from models.bases import version_base
from models.ensemble import open_scorer
from models.labels import SENTIMENTS, TOPICS
from models.onnx_scorer import HeadScores, Scorer
from models.registry import ModelRegistry

log = logging.getLogger(__name__)


class _Scorer(Protocol):
    version: str

    def score(self, texts: Sequence[str]) -> HeadScores: ...


def to_predictions(scores: HeadScores, version: str) -> list[Prediction]:
    """Turn probability rows into Predictions with label names and the version."""
    out = []
    for s_row, t_row in zip(scores.sentiment, scores.topic, strict=True):
        s_map = {name: round(float(p), 6) for name, p in zip(SENTIMENTS, s_row, strict=True)}
        t_map = {name: round(float(p), 6) for name, p in zip(TOPICS, t_row, strict=True)}
        out.append(
            Prediction(
                sentiment=SENTIMENTS[int(s_row.argmax())],
                sentiment_scores=s_map,
                topic=TOPICS[int(t_row.argmax())],
                topic_scores=t_map,
                model_version=version,
            )
        )
    return out


async def _run(scorer: _Scorer, texts: Sequence[str]) -> list[Prediction]:
    if any(not t.strip() for t in texts):
        raise ModelError("empty text cannot be classified")
    try:
        scores = await asyncio.to_thread(scorer.score, list(texts))
    except Exception as exc:
        raise ModelError(f"{type(exc).__name__}: {exc}") from exc
    return to_predictions(scores, scorer.version)


class CurrentModel:
    """The scorer of a pinned version, or of the registry's ``current`` pointer.

    Following ``current``, it re-reads the pointer at most every ``reload_seconds`` and
    swaps in a newly promoted version, so workers and the model server pick up a
    promotion without a restart.

    Args:
        registry: the model registry.
        pinned: a version to keep, or None to follow ``current``.
        reload_seconds: how often to re-read the pointer.
        threads: documents scored in parallel (0: one per CPU core).
        precision: ``int8`` or ``fp32`` arithmetic (see ``OnnxScorer``).
        device: ``cpu`` (ONNX Runtime) or a GPU (``cuda``, ``cuda:N``: ``TorchScorer``).
        gpu_dtype: the GPU's arithmetic.
        bases_cache: where packaged bases are unpacked (a GPU scorer reads an older version's
            architecture from its base).
        keep_base: refuse to switch to a version of another base encoder. The model server
            sets it: its clients send token ids from one base's tokenizer, which another
            base would misread.
    """

    def __init__(
        self,
        registry: ModelRegistry,
        pinned: str | None = None,
        reload_seconds: float = 10.0,
        threads: int = 0,
        keep_base: bool = False,
        precision: Precision = "int8",
        device: str = "cpu",
        gpu_dtype: GpuDtype = "float16",
        bases_cache: Path = Path("var/bases"),
    ) -> None:
        self._registry = registry
        self._pinned = pinned
        self._reload_seconds = reload_seconds
        self._threads = threads
        self._precision = precision
        self._device = (device, gpu_dtype, bases_cache)
        self._keep_base = keep_base
        self._refused: str | None = None  # the version refused last: log it once, not every reload
        self._lock = threading.Lock()
        self._scorer = self._load(self._wanted())
        self._checked = time.monotonic()

    def _wanted(self) -> str:
        return self._pinned or self._registry.current().name

    def _load(self, name: str) -> Scorer:
        log.info("loading model %s", name)
        device, dtype, bases = self._device
        return open_scorer(
            self._registry,
            name,
            threads=self._threads,
            precision=self._precision,
            device=device,
            gpu_dtype=dtype,
            bases_cache=bases,
        )

    def get(self) -> Scorer:
        """The scorer to use now (reloads when the promoted version changed)."""
        if self._pinned or time.monotonic() - self._checked < self._reload_seconds:
            return self._scorer
        with self._lock:
            self._checked = time.monotonic()
            wanted = self._wanted()
            if wanted != self._scorer.version and self._may_switch(wanted):
                self._scorer = self._load(wanted)
                log.info("switched to model %s", wanted)
        return self._scorer

    def _may_switch(self, wanted: str) -> bool:
        if not self._keep_base:
            return True
        if wanted == self._refused:
            return False
        old, new = version_base(self._scorer.meta), version_base(self._registry.get(wanted).meta)
        if old == new:
            return True
        log.error(
            "not switching to %s: its base %s tokenises unlike the served %s; restart serve-model "
            "and point its clients at triton://...?base=%s",
            wanted,
            new,
            old,
            new,
        )
        self._refused = wanted
        return False


class OnnxClassifier:
    """Scores with a registry version through ONNX Runtime in a worker thread."""

    def __init__(self, model: CurrentModel) -> None:
        self._model = model

    @property
    def version(self) -> str:
        """The version that scores the next batch."""
        return self._model.get().version

    async def classify(self, texts: Sequence[str]) -> list[Prediction]:
        """Predictions in input order, each with the version that made it."""
        scorer = await asyncio.to_thread(self._model.get)
        return await _run(scorer, texts)

    async def close(self) -> None:
        """Nothing to release."""


class BaselineClassifier:
    """The Naive Bayes reference model behind the Classifier protocol."""

    def __init__(self) -> None:
        self._model = NaiveBayesModel()

    @property
    def version(self) -> str:
        """``baseline-nb-<data hash>``."""
        return self._model.version

    async def classify(self, texts: Sequence[str]) -> list[Prediction]:
        """Predictions in input order."""
        return await _run(self._model, texts)

    async def close(self) -> None:
        """Nothing to release."""
