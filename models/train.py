"""Fine-tune the two-head classifier on base data plus new labels, fully offline."""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm
from transformers import AutoTokenizer

from models.bases import DEFAULT_BASE, base_dir
from models.dataset import IGNORE, Example
from models.distill import SoftTargets, batch_targets, soft_cross_entropy
from models.labels import SENTIMENTS, TOPICS
from models.net import TwoHeadClassifier
from models.text import normalize

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of one training run; recorded in the model card."""

    epochs: int = 3
    lr: float = 8e-5
    batch_size: int = 32
    max_length: int = 64
    warmup: float = 0.06
    weight_decay: float = 0.01
    seed: int = 13
    threads: int = 0  # 0 = torch default
    sentiment_weight: float = 1.0  # the sentiment loss's weight against the topic loss
    balance_sentiment: bool = False  # weight sentiment classes by sqrt(inverse frequency)
    base: str = DEFAULT_BASE  # the base encoder (models/bases.py)
    distill: float = 0.0  # weight of a teacher's soft targets on both heads (models/distill.py)
    # bf16 autocast for the forward pass (weights, gradients and optimizer stay fp32): 1.52x the
    # training rows/s on a CPU with AVX512-BF16, same F1 (docs/benchmarks.md); off by default so
    # that the default recipe stays bit-reproducible on any CPU.
    bf16: bool = False
    # Batches of rows of similar token length: random batches of headlines pad to ~1.7x their
    # mean length (measured on the base data), so grouping cuts the padded tokens a step pays for.
    # Off by default for the same reason as bf16: the default recipe's batches stay as they were.
    group_by_length: bool = False


def seed_everything(seed: int) -> None:
    """Fix every random source training uses."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def shuffled_batches(rows: Sequence[Example], size: int, shuffle: bool, rng: random.Random) -> list[list[Example]]:
    """Consecutive batches of ``size`` rows, in a seeded random order when ``shuffle``."""
    order = list(range(len(rows)))
    if shuffle:
        rng.shuffle(order)
    return [[rows[i] for i in order[k : k + size]] for k in range(0, len(order), size)]


GROUP_WINDOW = 64  # batches per sorting window: wide enough to match lengths, narrow enough to stay random


def length_grouped_batches(
    rows: Sequence[Example], lengths: Sequence[int], size: int, rng: random.Random
) -> list[list[Example]]:
    """Shuffled batches whose rows have similar lengths.

    Rows are shuffled, cut into windows of ``GROUP_WINDOW`` batches, sorted by length inside
    each window and cut into batches; the batches are then shuffled, so an epoch still
    visits every row once in a seeded random order of batches.

    Args:
        rows: the training rows.
        lengths: each row's token length (same order as ``rows``).
        size: rows per batch.
        rng: the run's seeded random source.
    """
    order = list(range(len(rows)))
    rng.shuffle(order)
    window = size * GROUP_WINDOW
    batches: list[list[Example]] = []
    for w in range(0, len(order), window):
        chunk = sorted(order[w : w + window], key=lambda i: lengths[i])
        batches.extend([rows[i] for i in chunk[k : k + size]] for k in range(0, len(chunk), size))
    rng.shuffle(batches)
    return batches


def token_lengths(tok: Any, rows: Sequence[Example], max_length: int) -> list[int]:
    """Each row's token count as the model sees it (normalised, truncated to ``max_length``)."""
    enc = tok([normalize(ex.text) for ex in rows], truncation=True, max_length=max_length)
    return [len(ids) for ids in enc["input_ids"]]


def _encode(tok: Any, batch: Sequence[Example], max_length: int) -> dict[str, torch.Tensor]:
    enc = tok(
        [normalize(ex.text) for ex in batch],
        padding=True,  # dynamic padding: pad to the batch's longest, not max_length
        truncation=True,
        max_length=max_length,
        return_tensors="pt",
    )
    return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}


def _masked_ce(logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    # sum / total weight rather than mean: a batch may hold no label for one head
    loss = nn.functional.cross_entropy(logits, target, weight=weight, ignore_index=IGNORE, reduction="sum")
    keep = target[target != IGNORE]
    total = weight[keep].sum() if weight is not None else torch.tensor(float(len(keep)))
    return loss / total.clamp(min=1e-6)  # 0 / tiny = 0 when no row has this head's label


def sentiment_class_weights(rows: Sequence[Example]) -> torch.Tensor:
    """sqrt(inverse frequency) per sentiment class, mean 1: rare classes (negative) count more.

    The square root is a compromise: full inverse frequency over-predicts the rare classes.
    """
    y = np.array([ex.sentiment for ex in rows])
    counts = np.bincount(y[y != IGNORE], minlength=len(SENTIMENTS)).clip(min=1)
    w = np.sqrt(counts.sum() / (len(SENTIMENTS) * counts))
    return torch.tensor(w / w.mean(), dtype=torch.float32)


class _Loss:
    """Masked hard-label loss per head, plus the teacher's soft targets when distilling."""

    def __init__(self, cfg: TrainConfig, sentiment_classes: torch.Tensor | None, soft: SoftTargets | None) -> None:
        if cfg.distill > 0 and soft is None:
            raise ValueError("distill > 0 needs a teacher's soft targets")
        self._cfg = cfg
        self._classes = sentiment_classes
        self._soft = soft if cfg.distill > 0 else None

    def __call__(self, batch: Sequence[Example], s_logits: torch.Tensor, t_logits: torch.Tensor) -> torch.Tensor:
        y_s = torch.tensor([ex.sentiment for ex in batch])
        y_t = torch.tensor([ex.topic for ex in batch])
        loss = self._cfg.sentiment_weight * _masked_ce(s_logits, y_s, self._classes) + _masked_ce(t_logits, y_t)
        if self._soft is not None:
            p_s, p_t = batch_targets(self._soft, batch)
            loss = loss + self._cfg.distill * (soft_cross_entropy(s_logits, p_s) + soft_cross_entropy(t_logits, p_t))
        return loss


def _optimizer(model: TwoHeadClassifier, cfg: TrainConfig) -> torch.optim.Optimizer:
    no_decay = ("bias", "LayerNorm.weight", "layer_norm")
    groups = [
        {
            "params": [p for n, p in model.named_parameters() if not any(k in n for k in no_decay)],
            "weight_decay": cfg.weight_decay,
        },
        {"params": [p for n, p in model.named_parameters() if any(k in n for k in no_decay)], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=cfg.lr)


def _schedule(step: int, total: int, warmup: int) -> float:
    if step < warmup:
        return (step + 1) / max(1, warmup)
    return max(0.0, (total - step) / max(1, total - warmup))


@torch.no_grad()
def predict_logits(
    model: TwoHeadClassifier, tok: Any, rows: Sequence[Example], max_length: int, batch_size: int = 128
) -> tuple[np.ndarray, np.ndarray]:
    """Return (sentiment logits, topic logits) for every row, in order."""
    model.eval()
    sent, topic = [], []
    for batch in shuffled_batches(rows, batch_size, False, random.Random(0)):
        s, t = model(**_encode(tok, batch, max_length))
        sent.append(s.numpy())
        topic.append(t.numpy())
    return np.concatenate(sent), np.concatenate(topic)


def _batch_plan(rows: Sequence[Example], tok: Any, cfg: TrainConfig) -> Callable[[], list[list[Example]]]:
    """A function that draws each epoch's batches from one seeded random source."""
    rng = random.Random(cfg.seed)
    if not cfg.group_by_length:
        return lambda: shuffled_batches(rows, cfg.batch_size, True, rng)
    lengths = token_lengths(tok, rows, cfg.max_length)
    return lambda: length_grouped_batches(rows, lengths, cfg.batch_size, rng)


def train_model(
    train_rows: Sequence[Example],
    cfg: TrainConfig,
    base: Path,
    on_epoch: Callable[[int, TwoHeadClassifier], None] | None = None,
    soft: SoftTargets | None = None,
    init: Path | None = None,
) -> tuple[TwoHeadClassifier, Any]:
    """Fine-tune encoder and heads jointly; return (model, tokenizer).

    Each row has one label; the other head's loss is masked out, so one shuffled
    stream of rows trains both heads through the shared encoder.

    Args:
        train_rows: labelled rows.
        cfg: hyper-parameters.
        base: folder of the base encoder ``cfg.base`` (``models.bases.base_dir``).
        on_epoch: called after each epoch with the epoch index and the model.
        soft: a teacher's scores for every training text, weighted by ``cfg.distill``.
        init: saved weights (of the same base) to start from instead of the bare base.
    """
    seed_everything(cfg.seed)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    tok = AutoTokenizer.from_pretrained(str(base))
    model = TwoHeadClassifier(base, len(SENTIMENTS), len(TOPICS))
    if init is not None:
        # warm start: a further run of a version's weights with a fresh schedule
        model.load_state_dict(torch.load(init, map_location="cpu"))
    opt = _optimizer(model, cfg)
    total = math.ceil(len(train_rows) / cfg.batch_size) * cfg.epochs
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: _schedule(s, total, int(cfg.warmup * total)))
    loss = _Loss(cfg, sentiment_class_weights(train_rows) if cfg.balance_sentiment else None, soft)
    next_batches = _batch_plan(train_rows, tok, cfg)
    for epoch in range(cfg.epochs):
        _run_epoch(model, tok, next_batches(), cfg, opt, sched, epoch, loss)
        if on_epoch is not None:
            on_epoch(epoch, model)
    model.eval()
    return model, tok


def _run_epoch(
    model: TwoHeadClassifier,
    tok: Any,
    batches: list[list[Example]],
    cfg: TrainConfig,
    opt: torch.optim.Optimizer,
    sched: Any,
    epoch: int,
    loss_of: _Loss,
) -> None:
    model.train()
    bar = tqdm(batches, desc=f"epoch {epoch + 1}/{cfg.epochs}", unit="batch", mininterval=5.0)
    running = 0.0
    for i, batch in enumerate(bar):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.bf16):
            s_logits, t_logits = model(**_encode(tok, batch, cfg.max_length))
        loss = loss_of(batch, s_logits.float(), t_logits.float())  # the loss in fp32
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        running = 0.98 * running + 0.02 * loss.item() if i else loss.item()
        bar.set_postfix(loss=f"{running:.3f}", lr=f"{sched.get_last_lr()[0]:.2e}", refresh=False)


def save_checkpoint(model: TwoHeadClassifier, path: Path) -> None:
    """Save the fp32 weights (local use and re-export; not committed: ~90 MB)."""
    torch.save(model.state_dict(), path)


def load_checkpoint(path: Path, base: Path | None = None) -> TwoHeadClassifier:
    """Rebuild the network from its base encoder's folder (default: MiniLM) and load saved weights."""
    base = base or base_dir(DEFAULT_BASE, Path())  # MiniLM needs no cache
    model = TwoHeadClassifier(base, len(SENTIMENTS), len(TOPICS))
    model.load_state_dict(torch.load(path, map_location="cpu"))
    model.eval()
    return model
