"""Compare ways to serve one trained version on CPU: quality, speed, batch independence.

For a ``weights.pt`` (fp32, kept beside each trained version), export three ONNX files
(fp32; int8-stored weights, what ships; ONNX Runtime's dynamic int8 quantisation) and serve
them four ways: the int8-stored file with fp32 and with int8 arithmetic (the scorer's two
precisions), the other two as they are. For each, report validation
weighted F1 per head, docs/s through the scorer (one document per call, 2 in parallel), and
how far a headline's scores move between scoring it alone and inside one raw padded batch.

Prints one JSON object on stdout; progress goes to stderr. Usage:
    python bench/quantisation.py --checkpoint var/models/<version>/weights.pt --version-dir DIR
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from finsentry.settings import Precision
from models.dataset import load_base, split
from models.export import export_onnx
from models.metrics import softmax
from models.onnx_scorer import OnnxScorer
from models.pipeline import evaluate
from models.train import load_checkpoint


def progress(msg: str) -> None:
    sys.stderr.write(f"[bench] {msg}\n")
    sys.stderr.flush()


def _dynamic_int8(fp32: Path, out: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    logging.getLogger().setLevel(logging.WARNING)  # the quantiser logs every tensor at INFO
    quantize_dynamic(str(fp32), str(out), weight_type=QuantType.QInt8, per_channel=True, reduce_range=True)


def _variant_dir(root: Path, name: str, version_dir: Path, onnx: Path) -> Path:
    out = root / name
    shutil.copytree(version_dir, out, ignore=shutil.ignore_patterns("model.onnx", "weights.pt"))
    shutil.copy(onnx, out / "model.onnx")
    return out


def measure(version_dir: Path, texts: list[str], rows: list[Any], precision: Precision) -> dict[str, Any]:
    """F1, speed and batch dependence of one exported model."""
    scorer = OnnxScorer(version_dir, threads=2, precision=precision)
    scorer.score(texts[:64])  # warm-up
    start = time.perf_counter()
    metrics = evaluate(scorer, rows)
    speed = len(rows) / (time.perf_counter() - start)
    alone = np.stack([scorer.score([t]).sentiment[0] for t in texts[:100]])
    # The scorer runs one document per call; a raw padded batch shows what batching would do.
    raw, _ = scorer.session.run(None, scorer.encode(texts[:100] + [t * 3 for t in texts[100:164]]))
    batched = softmax(np.asarray(raw)[:100], scorer.temperatures.get("sentiment", 1.0))
    return {
        "file_mb": round((version_dir / "model.onnx").stat().st_size / 1e6, 1),
        "sentiment_f1": round(metrics["sentiment"]["weighted_f1"], 4),
        "topic_f1": round(metrics["topic"]["weighted_f1"], 4),
        "docs_per_s": round(speed, 1),
        "alone_vs_batch_max_abs_diff": float(np.abs(alone - batched).max()),
        "alone_vs_batch_label_flips_of_100": int((alone.argmax(1) != batched.argmax(1)).sum()),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", type=Path, required=True, help="fp32 weights.pt of a trained version")
    ap.add_argument("--version-dir", type=Path, required=True, help="the version folder (tokenizer, meta.json)")
    args = ap.parse_args()
    rows = split(load_base())[1]
    texts = [ex.text for ex in rows]
    model = load_checkpoint(args.checkpoint)
    result: dict[str, Any] = {"validation_rows": len(rows)}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        fp32 = export_onnx(model, root / "fp32.onnx", compact=False)
        w8 = export_onnx(model, root / "w8.onnx")
        _dynamic_int8(fp32, root / "dyn.onnx")
        # (file, scorer precision): the precision only rewrites MatMuls on int8-stored weights
        variants: dict[str, tuple[Path, Precision]] = {
            "fp32": (fp32, "fp32"),
            "int8_weights_fp32_math": (w8, "fp32"),
            "int8_weights_int8_math": (w8, "int8"),
            "dynamic_int8": (root / "dyn.onnx", "fp32"),
        }
        for name, (onnx, precision) in variants.items():
            progress(f"measuring {name}")
            result[name] = measure(_variant_dir(root, name, args.version_dir, onnx), texts, rows, precision)
            progress(f"{name}: {result[name]}")
    sys.stdout.write(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
