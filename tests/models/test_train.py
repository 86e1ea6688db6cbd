"""Loss pieces of the training job: masking and sentiment class balance."""

from __future__ import annotations

import torch

from models.dataset import IGNORE, Example
from models.train import _masked_ce, sentiment_class_weights


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
