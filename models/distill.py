"""Distillation: a teacher version's calibrated scores as soft targets for a student.

Each vendored row carries one label only. The teacher (typically the accurate mpnet tier)
scores every training row on *both* heads, so the student learns the topic of sentiment
rows and the sentiment of topic rows too, and learns from the teacher's doubt on hard rows.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from models.dataset import Example
from models.onnx_scorer import OnnxScorer

log = logging.getLogger(__name__)

# text → (sentiment probabilities, topic probabilities) from the teacher
SoftTargets = dict[str, tuple[np.ndarray, np.ndarray]]


def teacher_targets(version_dir: Path, rows: Sequence[Example], chunk: int = 512, threads: int = 0) -> SoftTargets:
    """Score every distinct training text with the teacher version (its ONNX model, fp32 arithmetic).

    The teacher scores with fp32 arithmetic whatever the serving precision: this runs once,
    offline, and int8 arithmetic costs a large teacher F1 (mpnet: 1.2 points of sentiment).

    Args:
        version_dir: the teacher's registry folder.
        rows: the training rows.
        chunk: texts per progress step.
        threads: documents scored in parallel (0: the process's CPUs).
    """
    scorer = OnnxScorer(version_dir, threads=threads, precision="fp32")
    texts = sorted({ex.text for ex in rows})
    out: SoftTargets = {}
    for start in tqdm(range(0, len(texts), chunk), desc=f"teacher {scorer.version}", unit="chunk", mininterval=5.0):
        part = texts[start : start + chunk]
        scores = scorer.score(part)
        for i, text in enumerate(part):
            out[text] = (scores.sentiment[i], scores.topic[i])
    log.info("teacher %s scored %d texts", scorer.version, len(out))
    return out


def soft_cross_entropy(logits: torch.Tensor, probs: torch.Tensor) -> torch.Tensor:
    """Mean over rows of -sum(p * log softmax(logits)): cross-entropy against soft targets."""
    return -(probs * torch.log_softmax(logits, dim=1)).sum(dim=1).mean()


def batch_targets(soft: SoftTargets, batch: Sequence[Example]) -> tuple[torch.Tensor, torch.Tensor]:
    """The teacher's (sentiment, topic) probabilities for a batch, as tensors in batch order."""
    sent = np.stack([soft[ex.text][0] for ex in batch]).astype(np.float32)
    topic = np.stack([soft[ex.text][1] for ex in batch]).astype(np.float32)
    return torch.from_numpy(sent), torch.from_numpy(topic)
