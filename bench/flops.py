"""FLOPs per document of a BERT-style encoder, shared by the model benchmarks."""

from __future__ import annotations

import numpy as np


def encoder_flops(lengths: np.ndarray, hidden: int, ffn: int, layers: int) -> float:
    """Multiply-adds x2 per document, from real token lengths: projections, FFN, attention."""
    per_token = 2 * (4 * hidden * hidden + 2 * hidden * ffn)
    attention = 2 * 2 * hidden * lengths.astype(np.float64) ** 2
    return float(np.mean(layers * (per_token * lengths + attention)))
