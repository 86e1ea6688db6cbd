"""Training speed: rows/s of one real training epoch, fp32 vs bf16 autocast, on a fixed subset.

Runs ``models.train.train_model`` (the code ``finsentry train`` runs) on the same rows in each
mode, alternating the modes, and reports the median of the repeats. Prints one JSON object on
stdout; progress (tqdm) goes to stderr. Usage:
    python bench/train_speed.py [--rows 1280] [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from models.bases import DEFAULT_BASE, base_dir
from models.dataset import load_base, split
from models.train import TrainConfig, train_model


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1280)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    rows = split(load_base())[0][: args.rows]
    base = base_dir(DEFAULT_BASE, Path("var/bases"))
    runs: dict[str, list[float]] = {"fp32": [], "bf16": []}
    for _ in range(args.repeats):
        for mode in runs:
            start = time.perf_counter()
            train_model(rows, TrainConfig(epochs=1, bf16=mode == "bf16"), base)
            runs[mode].append(len(rows) / (time.perf_counter() - start))
    medians = {mode: round(statistics.median(r), 1) for mode, r in runs.items()}
    result = {
        "rows": len(rows),
        "batch_size": TrainConfig().batch_size,
        "train_rows_per_s_median": medians,
        "bf16_speedup": round(medians["bf16"] / medians["fp32"], 2),
    }
    sys.stdout.write(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
