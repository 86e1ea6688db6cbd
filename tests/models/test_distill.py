"""Distillation: soft targets from a real teacher version reach both heads of every row."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models.dataset import IGNORE, Example, load_base
from models.distill import batch_targets, soft_cross_entropy, teacher_targets
from models.onnx_scorer import OnnxScorer
from models.registry import ModelRegistry
from models.train import TrainConfig, _Loss


def test_soft_cross_entropy_on_one_hot_targets_is_cross_entropy() -> None:
    logits = torch.randn(6, 4, generator=torch.Generator().manual_seed(0))
    y = torch.tensor([0, 3, 1, 2, 2, 0])
    one_hot = torch.nn.functional.one_hot(y, 4).float()
    assert torch.allclose(soft_cross_entropy(logits, one_hot), torch.nn.functional.cross_entropy(logits, y))


def test_soft_cross_entropy_is_lowest_when_the_student_matches_the_teacher() -> None:
    probs = torch.tensor([[0.7, 0.2, 0.1]])
    logits = torch.log(probs).clone().requires_grad_(True)
    soft_cross_entropy(logits, probs).backward()
    assert logits.grad is not None and logits.grad.abs().max() < 1e-6
    assert soft_cross_entropy(torch.zeros(1, 3), probs) > soft_cross_entropy(torch.log(probs), probs)


@pytest.fixture(scope="module")
def teacher_rows(registry: ModelRegistry) -> tuple[list[Example], dict[str, tuple[np.ndarray, np.ndarray]]]:
    rows = load_base()[:40] + load_base()[-40:]
    return rows, teacher_targets(registry.current().path, rows, chunk=16)


def test_teacher_scores_every_text_on_both_heads_as_the_fp32_served_model_does(
    registry: ModelRegistry, teacher_rows: tuple[list[Example], dict[str, tuple[np.ndarray, np.ndarray]]]
) -> None:
    rows, soft = teacher_rows
    assert set(soft) == {ex.text for ex in rows}
    # fp32 arithmetic whatever the serving precision: a teacher's quality matters, not its speed
    served = OnnxScorer(registry.current().path, precision="fp32").score([rows[0].text, rows[-1].text])
    assert np.allclose(soft[rows[0].text][0], served.sentiment[0], atol=1e-6)
    assert np.allclose(soft[rows[-1].text][1], served.topic[1], atol=1e-6)
    for s, t in soft.values():
        assert s.shape == (3,) and t.shape == (20,)
        assert abs(s.sum() - 1) < 1e-4 and abs(t.sum() - 1) < 1e-4


def test_the_teacher_teaches_the_head_a_row_has_no_label_for(
    teacher_rows: tuple[list[Example], dict[str, tuple[np.ndarray, np.ndarray]]],
) -> None:
    rows, soft = teacher_rows
    topic_only = [ex for ex in rows if ex.sentiment == IGNORE][:4]
    assert topic_only and all(ex.topic != IGNORE for ex in topic_only)
    p_s, _ = batch_targets(soft, topic_only)
    assert p_s.shape == (4, 3)

    def sentiment_grad(cfg: TrainConfig) -> torch.Tensor:
        s_logits = torch.zeros(4, 3, requires_grad=True)
        t_logits = torch.zeros(4, 20, requires_grad=True)
        _Loss(cfg, None, soft)(topic_only, s_logits, t_logits).backward()
        assert s_logits.grad is not None
        return s_logits.grad

    assert sentiment_grad(TrainConfig()).abs().max() == 0  # no label, no teacher: nothing to learn
    assert sentiment_grad(TrainConfig(distill=1.0)).abs().max() > 0


def test_distilling_without_a_teacher_is_refused() -> None:
    with pytest.raises(ValueError, match="teacher"):
        _Loss(TrainConfig(distill=0.5), None, None)
