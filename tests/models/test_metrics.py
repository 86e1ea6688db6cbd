from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from models.metrics import expected_calibration_error, fit_temperature, per_class_f1, softmax, weighted_f1


def test_weighted_f1_known_values() -> None:
    y = np.array([0, 0, 1, 1, 1, 2])
    assert weighted_f1(y, y, 3) == 1.0
    pred = np.array([0, 1, 1, 1, 1, 2])
    rows = per_class_f1(y, pred, 3)
    assert rows[0]["recall"] == 0.5 and rows[1]["precision"] == 0.75
    expected = (2 * (2 / 3) + 3 * (6 / 7) + 1 * 1.0) / 6
    assert abs(weighted_f1(y, pred, 3) - expected) < 1e-12


@settings(max_examples=20, deadline=None)
@given(st.floats(0.3, 4.0), st.integers(0, 10_000))
def test_temperature_fit_recovers_the_true_temperature(true_t: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 3, size=(4000, 4))
    probs = softmax(logits, true_t)
    y = np.array([rng.choice(4, p=p) for p in probs])
    assert abs(fit_temperature(logits, y) / true_t - 1) < 0.15


def test_calibration_lowers_ece_of_overconfident_logits() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 2, size=(5000, 3))
    y = np.array([rng.choice(3, p=p) for p in softmax(logits, 1.0)])
    overconfident = logits * 4
    t = fit_temperature(overconfident, y)
    assert (
        expected_calibration_error(softmax(overconfident, t), y)
        < expected_calibration_error(softmax(overconfident), y) / 2
    )
