"""The model on a GPU: torch directly, then through Triton (``finsentry serve-model``) with clients.

Measures, for the current (or ``--version``) model on ``--device``:
- ``direct``: ``TorchScorer.score_ids`` on pre-tokenised batches, per dtype and batch size;
- ``triton``, per server (``--serve``: model instances and GPU dtype): seconds until ready,
  one-at-a-time latency p50/p99, server throughput
  with ``--procs`` client processes each keeping ``--inflight`` pre-tokenised requests of
  ``chunk`` documents in flight, end-to-end ``TritonClassifier.classify`` (tokenisation and
  label mapping included) on ``--docs`` headlines, and label agreement with the local fp32
  ONNX path on the validation split.
- the fraction of the measured dense fp16 matmul ceiling reached (FLOPs per document from
  the real token lengths).

Prints one JSON object on stdout (and writes it to ``--out``); progress goes to stderr.
On a GPU host without internet, run it through ``bench/gpu/run_triton_gpu.sh`` (bench/gpu/README.md).
Usage: python bench/gpu/triton_gpu.py [--device cuda] [--serve 1:float16,2:float16] [--seconds 8]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

# bench/common.py sits one folder up: `python bench/gpu/triton_gpu.py` puts only bench/gpu/ on the path.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
from common import encoder_flops, free_port, single_doc_latencies_ms

from finsentry.settings import Settings
from models.dataset import load_base, split
from models.onnx_scorer import OnnxScorer, encode_texts
from models.registry import ModelRegistry
from models.serving import MAX_BATCH, serve_model_argv
from models.torch_scorer import TorchScorer, encoder_config


def progress(msg: str) -> None:
    sys.stderr.write(f"[bench] {msg}\n")
    sys.stderr.flush()


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def matmul_peak(device: str) -> float:
    """Measured dense matmul FLOP/s: fp16 on a GPU, fp32 on a CPU (median of 10)."""
    import torch

    n, dtype = (8192, torch.float16) if device.startswith("cuda") else (1024, torch.float32)
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    _sync(device)
    runs = []
    for _ in range(10):
        t = time.perf_counter()
        a @ b
        _sync(device)
        runs.append(time.perf_counter() - t)
    return 2 * n**3 / statistics.median(runs)


Feed = dict[str, np.ndarray]


def length_batches(tokenizer: Any, texts: list[str], batch: int) -> list[Feed]:
    """Texts sorted by length, tokenised in batches padded to a multiple of 16 (as the client does)."""
    order = sorted(texts, key=len)
    chunks = (order[k : k + batch] for k in range(0, len(order), batch))
    return [encode_texts(tokenizer, chunk, 64, pad_to_multiple_of=16) for chunk in chunks]


def direct(version_dir: Path, device: str, dtypes: list[str], texts: list[str], local: list[Any]) -> dict[str, Any]:
    """docs/s of TorchScorer.score_ids (host→device copy and results back included), label agreement."""
    from models.classifiers import to_predictions

    out: dict[str, Any] = {}
    for dtype in dtypes:
        scorer = TorchScorer(version_dir, device=device, dtype=dtype)  # type: ignore[arg-type]
        col = out[dtype] = {}
        col["label_agreement_with_local_fp32"] = agreement(to_predictions(scorer.score(texts), ""), local)
        for b in (64, 256, 1024):
            batches = length_batches(scorer.tokenizer, texts, b)
            for feed in batches[:3]:
                scorer.logits_ids(**feed)
            runs = []
            for _ in range(5):  # median of 5 passes over the split
                t = time.perf_counter()
                for feed in batches:
                    scorer.logits_ids(**feed)
                runs.append(len(texts) / (time.perf_counter() - t))
            col[str(b)] = round(statistics.median(runs), 1)
            progress(f"direct {dtype} batch {b}: {col[str(b)]} docs/s")
    return out


async def _flood(url: str, feeds: list[Feed], inflight: int, seconds: float) -> tuple[int, list[float]]:
    from tritonclient.grpc import InferInput, InferRequestedOutput
    from tritonclient.grpc.aio import InferenceServerClient

    client = InferenceServerClient(url=url)
    outputs = [InferRequestedOutput(n) for n in ("sentiment_probs", "topic_probs", "model_version")]
    done, lat = 0, []
    deadline = time.perf_counter() + seconds

    async def worker(k: int) -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            feed = feeds[k % len(feeds)]
            k += inflight
            inputs = []
            for name in ("input_ids", "attention_mask"):
                inp = InferInput(name, list(feed[name].shape), "INT64")
                inp.set_data_from_numpy(feed[name])
                inputs.append(inp)
            t = time.perf_counter()
            await client.infer("finsentry", inputs, outputs=outputs, client_timeout=30)
            lat.append(time.perf_counter() - t)
            done += len(feed["input_ids"])

    await asyncio.gather(*(worker(i) for i in range(inflight)))
    await client.close()
    return done, lat


@functools.cache
def _client_data(version_dir: str) -> tuple[Any, list[str]]:
    """This client process's tokenizer and training headlines (loaded once per process)."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(Path(version_dir) / "tokenizer"))
    return tok, [ex.text for ex in split(load_base())[0]]


def flood_proc(args: tuple[str, str, int, float, int, int]) -> tuple[int, list[float], float]:
    """One client process: pre-tokenised requests of ``chunk`` documents, ``inflight`` at a time."""
    url, version_dir, chunk, seconds, inflight, seed = args
    tok, texts = _client_data(version_dir)
    rng = np.random.default_rng(seed)
    sample = rng.choice(texts, size=min(len(texts), chunk * 64), replace=False).tolist()
    feeds = [f for f in length_batches(tok, sample, chunk) if len(f["input_ids"]) == chunk]  # full chunks only
    rng.shuffle(feeds)  # type: ignore[arg-type]
    start = time.perf_counter()
    done, lat = asyncio.run(_flood(url, feeds, inflight, seconds))
    return done, lat, time.perf_counter() - start


def classify_proc(args: tuple[str, str, list[str], int]) -> tuple[int, float]:
    """One client process: TritonClassifier.classify over its texts in calls of 1,024."""
    url, version_dir, texts, chunk = args
    from models.triton_client import TritonClassifier

    client = TritonClassifier(url, tokenizer_dir=Path(version_dir) / "tokenizer", timeout=30, chunk=chunk)

    async def run() -> float:
        await client.classify(texts[:256])
        t = time.perf_counter()
        for k in range(0, len(texts), 1024):
            await client.classify(texts[k : k + 1024])
        elapsed = time.perf_counter() - t
        await client.close()
        return elapsed

    return len(texts), asyncio.run(run())


async def _latency_and_labels(url: str, version_dir: Path, texts: list[str]) -> tuple[dict[str, float], list[Any]]:
    from models.triton_client import TritonClassifier

    client = TritonClassifier(url, tokenizer_dir=version_dir / "tokenizer", timeout=30)
    await client.wait_ready(180)
    await client.classify(texts[:64])
    lat = await single_doc_latencies_ms(client, texts)
    labels = await client.classify(texts)
    await client.close()
    pct = {f"p{q}_ms": round(float(np.percentile(lat, q)), 2) for q in (50, 99)}
    return pct, labels


def _wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    """Until the model is ready; fail at once if the server process has exited."""
    from tritonclient.grpc import InferenceServerClient

    client = InferenceServerClient(url=url)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"serve-model exited with {proc.returncode}")
        try:
            if client.is_model_ready("finsentry"):
                return
        except Exception:  # noqa: BLE001 - not listening yet
            pass
        time.sleep(0.5)
    raise RuntimeError(f"serve-model not ready within {timeout:.0f}s")


def triton_run(opts: argparse.Namespace, pool: Any, version_dir: Path, texts: list[str], serve: str) -> dict[str, Any]:
    """Start serve-model on the device as ``serve`` (``instances:dtype``) and measure it from clients."""
    instances, dtype = serve.split(":")
    grpc, http, metrics = free_port(), free_port(), free_port()
    env = {
        **os.environ,
        "FINSENTRY_MODEL__DEVICE": opts.device,
        "FINSENTRY_MODEL__GPU_DTYPE": dtype,
        "FINSENTRY_MODEL__SERVE_INSTANCES": instances,
        "FINSENTRY_MODEL__CLASSIFIER_URL": f"local://{version_dir.name}",
        "FINSENTRY_HOME": "var/bench",
        "FINSENTRY_LOG_LEVEL": "WARNING",
    }
    proc = subprocess.Popen(serve_model_argv(grpc, http, metrics), env=env, stdout=sys.stderr, stderr=subprocess.STDOUT)
    url = f"127.0.0.1:{grpc}"
    try:
        started = time.perf_counter()
        _wait_ready(url, proc, 240)
        out: dict[str, Any] = {"serve": serve, "ready_s": round(time.perf_counter() - started, 1)}
        latency, labels = asyncio.run(_latency_and_labels(url, version_dir, texts))
        out["single_doc_latency"] = latency
        progress(f"triton {serve}: one at a time p50 {latency['p50_ms']} ms, p99 {latency['p99_ms']} ms")
        out["labels"] = labels
        for chunk in opts.chunks:
            jobs = [(url, str(version_dir), chunk, opts.seconds, opts.inflight, seed) for seed in range(opts.procs)]
            res = pool.map(flood_proc, jobs)
            docs, lat = sum(r[0] for r in res), [x for r in res for x in r[1]]
            rate = docs / max(r[2] for r in res)
            out[f"pretokenised_chunk{chunk}"] = {
                "docs_per_s": round(rate, 1),
                "requests": len(lat),
                "request_p50_ms": round(float(np.percentile(lat, 50)) * 1000, 2),
                "request_p99_ms": round(float(np.percentile(lat, 99)) * 1000, 2),
            }
            progress(f"triton {serve} chunk {chunk}: {rate:.0f} docs/s")
        share = opts.docs // opts.procs
        sample = (texts * (opts.docs // len(texts) + 1))[: share * opts.procs]
        vdir = str(version_dir)
        parts = [(url, vdir, sample[i * share : (i + 1) * share], opts.client_chunk) for i in range(opts.procs)]
        done = pool.map(classify_proc, parts)
        out["classify_client_chunk"] = opts.client_chunk
        out["classify_end_to_end_docs_per_s"] = round(sum(r[0] for r in done) / max(r[1] for r in done), 1)
        progress(f"triton {serve} classify end to end: {out['classify_end_to_end_docs_per_s']} docs/s")
        return out
    finally:
        proc.terminate()
        proc.wait(60)


def agreement(a: list[Any], b: list[Any]) -> dict[str, float]:
    """Share of documents where both give the same label, per head."""
    return {
        head: round(sum(getattr(x, head) == getattr(y, head) for x, y in zip(a, b, strict=True)) / len(a), 5)
        for head in ("sentiment", "topic")
    }


def parse() -> argparse.Namespace:
    ap = argparse.ArgumentParser()
    ap.add_argument("--version")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--dtypes", default="float16,float32", help="direct-path dtypes")
    ap.add_argument("--serve", default="1:float16,2:float16,1:float32", help="servers to measure, instances:dtype")
    ap.add_argument("--chunks", default="64,256")
    ap.add_argument("--procs", type=int, default=8, help="client processes")
    ap.add_argument("--inflight", type=int, default=8, help="requests in flight per client process")
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--client-chunk", type=int, default=256, help="documents per request in end-to-end classify")
    ap.add_argument("--docs", type=int, default=40_000, help="end-to-end classify documents")
    ap.add_argument("--texts", type=int, default=0, help="validation headlines used (0: all)")
    ap.add_argument("--out", type=Path)
    opts = ap.parse_args()
    opts.chunks = [int(c) for c in opts.chunks.split(",")]
    # Triton refuses a request over the model's max batch: find out here, not after the server starts.
    if not all(1 <= c <= MAX_BATCH for c in [*opts.chunks, opts.client_chunk]):
        ap.error(f"--chunks and --client-chunk must be 1-{MAX_BATCH} (the served max batch)")
    return opts


def main() -> None:
    opts = parse()
    import torch

    from models.classifiers import to_predictions

    registry = ModelRegistry(Settings().model.registry)
    info = registry.get(opts.version) if opts.version else registry.current()
    texts = [ex.text for ex in split(load_base())[1]][: opts.texts or None]
    gpu = torch.cuda.get_device_name(0) if opts.device.startswith("cuda") else "cpu"
    progress(f"model {info.name} on {gpu}, {len(texts)} validation headlines")
    onnx = OnnxScorer(info.path, precision="fp32")
    local = to_predictions(onnx.score(texts), info.name)
    arch = encoder_config(info.path, info.meta, Path("var/bases"))
    lengths = onnx.encode(texts)["attention_mask"].sum(axis=1)
    flops = encoder_flops(lengths, arch["hidden_size"], arch["intermediate_size"], arch["num_hidden_layers"])
    result: dict[str, Any] = {
        "model": info.name,
        "device": gpu,
        "torch": torch.__version__,
        "cpu_threads": os.cpu_count(),
        "flops_per_doc": round(flops),
        "peak_matmul_flops_measured": round(matmul_peak(opts.device)),
        "direct": direct(info.path, opts.device, [d for d in opts.dtypes.split(",") if d], texts, local),
        "triton": [],
    }
    if opts.out:
        opts.out.write_text(json.dumps(result, indent=2) + "\n")
    # One pool of client processes for every server: spawning them (imports) costs seconds each time.
    with mp.get_context("spawn").Pool(opts.procs) as pool:
        for serve in opts.serve.split(","):
            try:
                run = triton_run(opts, pool, info.path, texts, serve)
            except Exception as exc:  # noqa: BLE001 - record it and measure the next server
                progress(f"triton {serve} failed: {exc!r}")
                result["triton"].append({"serve": serve, "error": repr(exc)})
            else:
                run["label_agreement_with_local_fp32"] = agreement(run.pop("labels"), local)
                result["triton"].append(run)
            if opts.out:  # what is measured so far survives a run cut off by its time limit
                opts.out.write_text(json.dumps(result, indent=2) + "\n")
    rates = [v["docs_per_s"] for r in result["triton"] for k, v in r.items() if k.startswith("pretokenised")]
    best = max(rates, default=0)
    result["triton_best_docs_per_s"] = best
    result["triton_best_fraction_of_matmul_peak"] = round(best * flops / result["peak_matmul_flops_measured"], 4)
    text = json.dumps(result, indent=2)
    if opts.out:
        opts.out.write_text(text + "\n")
    sys.stdout.write(text + "\n")


if __name__ == "__main__":
    main()
