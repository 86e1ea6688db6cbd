"""Classification metrics without a heavy dependency: weighted F1, per-class F1, ECE."""

from __future__ import annotations

import itertools

import numpy as np


def per_class_f1(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> list[dict[str, float]]:
    """Precision, recall, F1 and support for each class index."""
    rows: list[dict[str, float]] = []
    for c in range(n_classes):
        tp = float(np.sum((y_pred == c) & (y_true == c)))
        fp = float(np.sum((y_pred == c) & (y_true != c)))
        fn = float(np.sum((y_pred != c) & (y_true == c)))
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        rows.append({"precision": precision, "recall": recall, "f1": f1, "support": tp + fn})
    return rows


def weighted_f1(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> float:
    """F1 averaged over classes, weighted by support (the benchmarks' headline metric)."""
    rows = per_class_f1(y_true, y_pred, n_classes)
    total = sum(r["support"] for r in rows)
    return sum(r["f1"] * r["support"] for r in rows) / total if total else 0.0


def expected_calibration_error(probs: np.ndarray, y_true: np.ndarray, bins: int = 15) -> float:
    """Gap between confidence and accuracy, averaged over confidence bins."""
    conf = probs.max(axis=1)
    correct = probs.argmax(axis=1) == y_true
    edges = np.linspace(0.0, 1.0, bins + 1)
    ece = 0.0
    for lo, hi in itertools.pairwise(edges):
        sel = (conf > lo) & (conf <= hi)
        if sel.any():
            ece += float(sel.mean()) * abs(float(correct[sel].mean()) - float(conf[sel].mean()))
    return ece


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of logits divided by a temperature."""
    z = logits / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_temperature(logits: np.ndarray, y_true: np.ndarray) -> float:
    """Temperature minimising validation NLL, by golden-section search on log T.

    One scalar per head keeps argmax (and so F1) unchanged while making the
    probabilities honest.
    """

    def nll(log_t: float) -> float:
        p = softmax(logits, float(np.exp(log_t)))
        return float(-np.mean(np.log(p[np.arange(len(y_true)), y_true] + 1e-12)))

    lo, hi = np.log(0.05), np.log(20.0)
    ratio = (np.sqrt(5) - 1) / 2
    for _ in range(60):
        a = hi - ratio * (hi - lo)
        b = lo + ratio * (hi - lo)
        if nll(a) < nll(b):
            hi = b
        else:
            lo = a
    return float(np.exp((lo + hi) / 2))
