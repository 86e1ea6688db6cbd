"""Classifier backends that run in-process: the ONNX model and the Naive Bayes baseline."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Protocol

from finsentry.errors import ModelError
from finsentry.schemas import Prediction
from models.baseline import NaiveBayesModel
from models.labels import SENTIMENTS, TOPICS
from models.onnx_scorer import HeadScores, OnnxScorer
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


class OnnxClassifier:
    """Scores with a registry version through ONNX Runtime in a worker thread.

    With ``pinned=None`` it follows the registry's ``current`` pointer and swaps in a
    newly promoted version within ``reload_seconds``, without a restart.
    """

    def __init__(
        self, registry: ModelRegistry, pinned: str | None = None, reload_seconds: float = 10.0, threads: int = 0
    ) -> None:
        self._registry = registry
        self._pinned = pinned
        self._reload_seconds = reload_seconds
        self._threads = threads
        self._scorer = self._load()
        self._checked = time.monotonic()

    def _load(self) -> OnnxScorer:
        info = self._registry.get(self._pinned) if self._pinned else self._registry.current()
        log.info("loading model %s", info.name)
        return OnnxScorer(info.path, threads=self._threads)

    @property
    def version(self) -> str:
        """The version that scores the next batch."""
        return self._scorer.version

    async def _maybe_reload(self) -> None:
        if self._pinned or time.monotonic() - self._checked < self._reload_seconds:
            return
        self._checked = time.monotonic()
        current = self._registry.current().name
        if current != self._scorer.version:
            self._scorer = await asyncio.to_thread(self._load)
            log.info("switched to model %s", current)

    async def classify(self, texts: Sequence[str]) -> list[Prediction]:
        """Predictions in input order, each with the version that made it."""
        await self._maybe_reload()
        return await _run(self._scorer, texts)

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
