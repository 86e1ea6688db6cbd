"""Functions shared by the benchmarks (bench/model.py, bench/gpu/triton_gpu.py, bench/pipeline.py)."""

from __future__ import annotations

import socket
import time
from typing import Any

import numpy as np


def encoder_flops(lengths: np.ndarray, hidden: int, ffn: int, layers: int) -> float:
    """Multiply-adds x2 per document, from real token lengths: projections, FFN, attention."""
    per_token = 2 * (4 * hidden * hidden + 2 * hidden * ffn)
    attention = 2 * 2 * hidden * lengths.astype(np.float64) ** 2
    return float(np.mean(layers * (per_token * lengths + attention)))


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def single_doc_latencies_ms(client: Any, texts: list[str], n: int = 300) -> list[float]:
    """Milliseconds of ``client.classify([text])`` for the first ``n`` texts, one at a time."""
    lat = []
    for t in texts[:n]:
        start = time.perf_counter()
        await client.classify([t])
        lat.append((time.perf_counter() - start) * 1000)
    return lat


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile of ``values`` by rank (no interpolation), as the end-to-end benchmark reports it."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
