"""What averaging the calibrated probabilities of several versions buys on validation.

Scores the fixed validation split (the base data's, as in every card) once per version
through its served ONNX model, then reports weighted F1 per head for every non-empty
subset of the versions, averaging the members' calibrated probabilities. Cost of an
ensemble is the sum of its members' (one encoder pass each).

Prints one JSON object on stdout; progress goes to stderr. Usage:
    python bench/ensemble.py [--registry var/models] [--precision int8|fp32] VERSION [VERSION ...]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from finsentry.settings import Precision
from models.dataset import load_base, split
from models.labels import SENTIMENTS, TOPICS
from models.onnx_scorer import PRECISIONS, OnnxScorer
from models.pipeline import head_metrics
from models.registry import ModelRegistry


def progress(msg: str) -> None:
    sys.stderr.write(f"[bench] {msg}\n")
    sys.stderr.flush()


def _score(
    registry: ModelRegistry, names: list[str], texts: list[str], precision: Precision
) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], dict[str, float]]:
    """Each member's probabilities, and its docs/s (load excluded: an ensemble costs their sum)."""
    out, speed = {}, {}
    for name in names:
        scorer = OnnxScorer(registry.get(name).path, precision=precision)
        started = time.perf_counter()
        scores = scorer.score(texts)
        elapsed = time.perf_counter() - started
        out[name] = (scores.sentiment, scores.topic)
        speed[name] = round(len(texts) / elapsed, 1)
        progress(f"scored {len(texts)} texts with {name} in {elapsed:.0f} s")
    return out, speed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("versions", nargs="+")
    parser.add_argument("--registry", type=Path, default=Path("var/models"))
    parser.add_argument("--precision", choices=PRECISIONS, default="int8", help="the members' arithmetic")
    args = parser.parse_args()
    registry = ModelRegistry(args.registry)
    val = split(load_base())[1]
    probs, speed = _score(registry, args.versions, [ex.text for ex in val], args.precision)
    y_s = np.array([ex.sentiment for ex in val])
    y_t = np.array([ex.topic for ex in val])
    rows: list[dict[str, Any]] = []
    for k in range(1, len(args.versions) + 1):
        for members in itertools.combinations(args.versions, k):
            s = np.mean([probs[m][0] for m in members], axis=0)
            t = np.mean([probs[m][1] for m in members], axis=0)
            rows.append(
                {
                    "members": list(members),
                    "sentiment_f1": round(head_metrics(s, y_s, SENTIMENTS)["weighted_f1"], 4),
                    "topic_f1": round(head_metrics(t, y_t, TOPICS)["weighted_f1"], 4),
                    "docs_per_s": round(1 / sum(1 / speed[m] for m in members), 1),
                }
            )
    json.dump({"precision": args.precision, "validation_rows": len(val), "ensembles": rows}, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
