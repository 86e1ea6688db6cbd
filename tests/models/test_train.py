"""Pieces of the training job: loss masking, sentiment class balance, bf16 autocast, length grouping."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch

from models.bases import DEFAULT_BASE, base_dir
from models.dataset import IGNORE, Example, load_base
from models.net import TwoHeadClassifier
from models.train import TrainConfig, _masked_ce, seed_everything, sentiment_class_weights, train_model


def test_rare_sentiment_classes_weigh_more() -> None:
    rows = [Example("a", 0, IGNORE)] * 10 + [Example("b", 1, IGNORE)] * 90 + [Example("c", 2, IGNORE)] * 40
    rows += [Example("t", IGNORE, 3)] * 500  # topic-only rows do not count
    w = sentiment_class_weights(rows)
    assert torch.isclose(w.mean(), torch.tensor(1.0))
    assert w[0] > w[2] > w[1]
    assert torch.isclose(w[0] / w[1], torch.tensor(3.0))  # sqrt(90 / 10)


def test_masked_loss_ignores_unlabelled_rows_and_uses_weights() -> None:
    logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 2.0], [5.0, 5.0, 5.0]])
    target = torch.tensor([1, 1, 2, IGNORE])
    per_row = torch.nn.functional.cross_entropy(logits[:3], target[:3], reduction="none")
    assert torch.isclose(_masked_ce(logits, target), per_row.mean())
    w = torch.tensor([1.0, 3.0, 0.5])
    expected = (per_row * w[target[:3]]).sum() / w[target[:3]].sum()
    assert torch.isclose(_masked_ce(logits, target, w), expected)
    none = torch.full((4,), IGNORE)
    assert _masked_ce(logits, none) == 0  # a batch without this head's labels adds nothing


TrainFn = Callable[..., dict[str, torch.Tensor]]


@pytest.fixture
def trained(tmp_path: Path) -> TrainFn:
    """Factory: one epoch on the first and last ``n`` base rows (batch 16, seed 3) → state dict."""
    base = base_dir(DEFAULT_BASE, tmp_path)

    def train(n: int, **changes: Any) -> dict[str, torch.Tensor]:
        rows = load_base()[:n] + load_base()[-n:]
        model, _ = train_model(rows, replace(TrainConfig(epochs=1, batch_size=16, seed=3), **changes), base)
        return model.state_dict()

    return train


def _initial(tmp_path: Path, name: str) -> torch.Tensor:
    seed_everything(3)  # the same initial weights train_model starts from
    return TwoHeadClassifier(base_dir(DEFAULT_BASE, tmp_path), 3, 20).state_dict()[name]


def test_bf16_autocast_trains_fp32_weights_to_nearly_the_same_place(trained: TrainFn, tmp_path: Path) -> None:
    a, b = trained(16), trained(16, bf16=True)
    assert all(t.dtype == torch.float32 for t in b.values())  # master weights stay fp32
    head = "sentiment.weight"
    assert not torch.equal(a[head], b[head])  # the forward pass really ran in bf16...
    emb = "encoder.embeddings.word_embeddings.weight"
    start = _initial(tmp_path, emb)
    moved_plain, moved_fast = (a[emb] - start).norm(), (b[emb] - start).norm()
    assert torch.isclose(moved_fast, moved_plain, rtol=0.2)  # ...and the update is about the same size
    assert torch.allclose(a[head], b[head], atol=5e-3)


def test_length_grouped_training_sees_other_batches_and_still_learns(trained: TrainFn, tmp_path: Path) -> None:
    plain, grouped, again = trained(32), trained(32, group_by_length=True), trained(32, group_by_length=True)
    head = "topic.weight"
    assert not torch.equal(plain[head], grouped[head])  # other batches
    assert torch.equal(grouped[head], again[head])  # seeded: reproducible
    assert not torch.equal(grouped[head], _initial(tmp_path, head))  # and it trained
