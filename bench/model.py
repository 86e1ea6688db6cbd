"""Model speed: CPU docs/s by batch size (torch fp32, ONNX int8 and fp32), predict path, Triton latency.

The ONNX columns are the served model in both precisions (models/onnx_scorer.py): a "batch"
is one ``score()`` call of that many texts, each document run alone on one core, the cores
in parallel. The torch column runs true padded batches.

Prints one JSON object on stdout; progress goes to stderr. Usage:
    python bench/model.py [--version V] [--docs N] [--no-triton]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from common import encoder_flops, free_port, single_doc_latencies_ms

from finsentry.settings import Precision, Settings
from models.bases import base_dir, version_base
from models.classifiers import to_predictions
from models.dataset import load_base, split
from models.onnx_scorer import PRECISIONS, OnnxScorer
from models.predict import predict_lines
from models.registry import ModelRegistry
from models.serving import serve_model_argv

BATCHES = (1, 8, 32, 64, 128, 256)


def progress(msg: str) -> None:
    sys.stderr.write(f"[bench] {msg}\n")
    sys.stderr.flush()


def peak_flops() -> float:
    """Measured fp32 matmul FLOP/s of this machine (the ceiling the model is compared with)."""
    import torch

    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    for _ in range(3):
        a @ b
    runs = []
    for _ in range(10):
        t = time.perf_counter()
        a @ b
        runs.append(time.perf_counter() - t)
    return 2 * 1024**3 / statistics.median(runs)


def docs_per_second(fn: Any, texts: list[str], batch: int, min_docs: int) -> float:
    n = max(min_docs, batch * 3)
    sample = (texts * (n // len(texts) + 1))[:n]
    fn(sample[:batch])  # warm-up
    t = time.perf_counter()
    for k in range(0, n, batch):
        fn(sample[k : k + batch])
    return n / (time.perf_counter() - t)


def torch_scorer(version_dir: Path, checkpoint: Path, base: Path) -> Any:
    import torch
    from transformers import AutoTokenizer

    from models.text import normalize
    from models.train import load_checkpoint

    model = load_checkpoint(checkpoint, base)
    tok = AutoTokenizer.from_pretrained(str(version_dir / "tokenizer"))

    @torch.no_grad()
    def run(batch: list[str]) -> Any:
        enc = tok([normalize(t) for t in batch], padding=True, truncation=True, max_length=64, return_tensors="pt")
        return model(enc["input_ids"], enc["attention_mask"])

    return run


def cpu_table(version_dir: Path, texts: list[str], docs: int, checkpoint: Path | None, base: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for precision in PRECISIONS:
        onnx = OnnxScorer(version_dir, precision=precision)
        col = out[f"onnx_{precision}"] = {}
        for b in BATCHES:
            col[str(b)] = round(docs_per_second(onnx.score, texts, b, docs), 1)
            progress(f"onnx {precision} batch {b}: {col[str(b)]} docs/s")
    checkpoint = checkpoint or version_dir / "weights.pt"
    if checkpoint.exists():
        run = torch_scorer(version_dir, checkpoint, base)
        out["torch_fp32"] = {}
        for b in BATCHES:
            out["torch_fp32"][str(b)] = round(docs_per_second(run, texts, b, docs), 1)
            progress(f"torch fp32 batch {b}: {out['torch_fp32'][str(b)]} docs/s")
    return out


def predict_path(version_dir: Path, texts: list[str], precision: Precision) -> dict[str, float]:
    """`finsentry predict`'s own loop on JSON lines, model load excluded; median of 3 runs."""
    scorer = OnnxScorer(version_dir, precision=precision)
    lines = [json.dumps({"id": i, "text": t}) for i, t in enumerate(texts)]

    def classify(batch: Any) -> Any:
        return to_predictions(scorer.score(batch), scorer.version)

    list(predict_lines(lines[:256], classify))
    runs = []
    for _ in range(3):
        t = time.perf_counter()
        for _ in predict_lines(lines, classify):
            pass
        runs.append(len(lines) / (time.perf_counter() - t))
    return {"docs": len(lines), "docs_per_s_median": round(statistics.median(runs), 1)}


async def _triton_measure(url: str, texts: list[str]) -> dict[str, Any]:
    from models.triton_client import TritonClassifier

    client = TritonClassifier.from_url(url)
    await client.wait_ready(120)
    await client.classify(texts[:8])
    lat = await single_doc_latencies_ms(client, texts)
    out: dict[str, Any] = {
        "single_p50_ms": round(float(np.percentile(lat, 50)), 2),
        "single_p99_ms": round(float(np.percentile(lat, 99)), 2),
    }
    progress(f"triton one at a time: p50 {out['single_p50_ms']} ms, p99 {out['single_p99_ms']} ms")
    sem = asyncio.Semaphore(32)

    async def one(t: str) -> None:
        async with sem:
            await client.classify([t])

    n = min(len(texts), 2000)
    start = time.perf_counter()
    await asyncio.gather(*(one(t) for t in texts[:n]))
    out["concurrent32_docs_per_s"] = round(n / (time.perf_counter() - start), 1)
    start = time.perf_counter()
    await client.classify(texts[:n])
    out["chunked64_docs_per_s"] = round(n / (time.perf_counter() - start), 1)
    progress(f"triton 32 in flight: {out['concurrent32_docs_per_s']} docs/s")
    await client.close()
    return out


def triton(texts: list[str], registry: Path) -> dict[str, Any]:
    grpc, http, metrics = free_port(), free_port(), free_port()
    env = {**os.environ, "FINSENTRY_MODEL__REGISTRY": str(registry), "FINSENTRY_HOME": "var/bench"}
    cmd = serve_model_argv(grpc, http, metrics)
    proc = subprocess.Popen(cmd, env=env, stdout=sys.stderr, stderr=subprocess.STDOUT)
    try:
        return asyncio.run(_triton_measure(f"triton://127.0.0.1:{grpc}", texts))
    finally:
        proc.terminate()
        proc.wait(30)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--version")
    ap.add_argument("--docs", type=int, default=2048)
    ap.add_argument("--no-triton", action="store_true")
    ap.add_argument("--checkpoint", type=Path, help="fp32 weights.pt for the torch column (not committed)")
    args = ap.parse_args()
    settings = Settings()
    registry = ModelRegistry(settings.model.registry)
    info = registry.get(args.version) if args.version else registry.current()
    texts = [ex.text for ex in split(load_base())[1]]
    progress(f"model {info.name}, {len(texts)} validation headlines")
    onnx = OnnxScorer(info.path)
    base = base_dir(version_base(info.meta), settings.home / "bases")
    arch = json.loads((base / "config.json").read_text())
    lengths = onnx.encode(texts)["attention_mask"].sum(axis=1)
    flops = encoder_flops(lengths, arch["hidden_size"], arch["intermediate_size"], arch["num_hidden_layers"])
    peak = peak_flops()
    result: dict[str, Any] = {
        "model": info.name,
        "base": version_base(info.meta),
        "cpu_threads": os.cpu_count(),
        "tokens_per_doc_mean": round(float(lengths.mean()), 1),
        "flops_per_doc": round(flops),
        "peak_fp32_flops_measured": round(peak),
    }
    result["cpu"] = cpu_table(info.path, texts, args.docs, args.checkpoint, base)
    for precision in PRECISIONS:
        # For int8 this is an "effective" share: the same FLOPs done in integer units.
        best = max(result["cpu"][f"onnx_{precision}"].values())
        result[f"onnx_{precision}_best_fraction_of_fp32_peak"] = round(best * flops / peak, 3)
    if "torch_fp32" in result["cpu"]:
        best_t = max(result["cpu"]["torch_fp32"].values())
        result["torch_fp32_best_fraction_of_fp32_peak"] = round(best_t * flops / peak, 3)
    result["predict_path"] = {p: predict_path(info.path, texts, p) for p in PRECISIONS}
    progress(f"predict path: {result['predict_path']}")
    if not args.no_triton and info.name == registry.current().name:  # serve-model serves current
        result["triton_cpu"] = triton(texts, settings.model.registry)
    elif not args.no_triton:
        progress("Triton skipped: serve-model serves the current version, not this one")
    sys.stdout.write(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
