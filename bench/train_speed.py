"""Training speed: rows/s of one real training epoch per recipe (fp32, bf16, length grouping).

Runs ``models.train.train_model`` (the code ``finsentry train`` runs) on the same rows in each
mode, alternating the modes, and reports the median of the repeats. Prints one JSON object on
stdout; progress (tqdm) goes to stderr. Usage:
    python bench/train_speed.py [--rows 1280] [--repeats 2] [--base minilm|mpnet]

The rows are the first ``--rows`` training rows in their fixed (shuffled by hash) order; the
result also reports the padded tokens per row that random and length-grouped batches pay for.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

from transformers import AutoTokenizer

from models.bases import DEFAULT_BASE, base_dir
from models.dataset import Example, load_base, split
from models.train import TrainConfig, length_grouped_batches, shuffled_batches, token_lengths, train_model

MODES = {
    "fp32": TrainConfig(epochs=1),
    "bf16": TrainConfig(epochs=1, bf16=True),
    "fp32_grouped": TrainConfig(epochs=1, group_by_length=True),
    "bf16_grouped": TrainConfig(epochs=1, bf16=True, group_by_length=True),
}


def _padding(rows: list[Example], base: Path) -> dict[str, float]:
    """Padded tokens per row: random batches vs length-grouped ones (seeded like training)."""
    cfg = TrainConfig()
    lengths = token_lengths(AutoTokenizer.from_pretrained(str(base)), rows, cfg.max_length)
    by_text = {id(r): n for r, n in zip(rows, lengths, strict=True)}

    def padded(batches: list) -> float:
        return sum(max(by_text[id(r)] for r in b) * len(b) for b in batches) / len(rows)

    plain = padded(shuffled_batches(rows, cfg.batch_size, True, random.Random(cfg.seed)))
    grouped = padded(length_grouped_batches(rows, lengths, cfg.batch_size, random.Random(cfg.seed)))
    return {"mean_tokens": round(sum(lengths) / len(rows), 1), "random": round(plain, 1), "grouped": round(grouped, 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1280)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--base", default=DEFAULT_BASE)
    ap.add_argument("--modes", default=",".join(MODES), help="comma-separated subset of " + ",".join(MODES))
    args = ap.parse_args()
    rows = split(load_base())[0][: args.rows]
    base = base_dir(args.base, Path("var/bases"))
    runs: dict[str, list[float]] = {m: [] for m in args.modes.split(",")}
    for r in range(args.repeats):
        for mode in runs:
            sys.stderr.write(f"repeat {r + 1}/{args.repeats}: {mode}\n")
            start = time.perf_counter()
            train_model(rows, replace(MODES[mode], base=args.base), base)
            runs[mode].append(len(rows) / (time.perf_counter() - start))
    medians = {mode: round(statistics.median(r), 1) for mode, r in runs.items()}
    first = next(iter(medians))
    result = {
        "base": args.base,
        "rows": len(rows),
        "batch_size": TrainConfig().batch_size,
        "padded_tokens_per_row": _padding(rows, base),
        "train_rows_per_s_median": medians,
        f"speedup_vs_{first}": {m: round(v / medians[first], 2) for m, v in medians.items()},
    }
    sys.stdout.write(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
