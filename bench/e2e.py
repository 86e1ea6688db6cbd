"""End to end through the embedded stack: offered load, sustained throughput, latency, CPU and memory.

For each worker count: a real noida-db broker, N real workers (scorer threads divided among them
so the cores are not oversubscribed), the model in-process (``local://``) or behind
``finsentry serve-model`` (``--serve``). A producer offers headlines at ``--rate`` docs/s (0: as
fast as the broker takes them), each stamped with its produce time (``fetched_at``); a reader of
``news.scored`` (written only after the store acknowledged the batch) measures produce → stored
latency per document; each worker's batch, model and store-write histograms say where its time
went. CPU seconds and peak memory per part: the broker, each worker, the model server, and this
process (the load generator: producer and reader). Prints one JSON object on stdout; progress on
stderr.

With ``--alerts`` (``bench/e2e_alerts.py``) the stream also carries ``--bursts`` bursts of negative
headlines on made-up tickers, the real alert detector and webhook deliverer run beside the workers
(CPU and memory reported for each), and a webhook receiver in this process measures produce →
webhook received latency per alert.

    python bench/e2e.py --workers 1,2,4 --docs 12000 --rate 0                 # capacity
    python bench/e2e.py --workers 2 --docs 12000 --rate 600                   # does it keep up?
    python bench/e2e.py --workers 2 --docs 6000 --rate 300 --alerts --bursts 10  # ... to the webhook
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from common import free_port, percentile
from e2e_alerts import AlertHarness, progress, with_bursts

from finsentry import topics
from finsentry.broker import EmbeddedBroker, ensure_topics, poll_records
from finsentry.proc import die_with_parent
from models.dataset import load_base
from stream.worker import READY_MARKER

CORES = os.cpu_count() or 2
PACE_TICK_S = 0.02  # a paced producer sends what is due every 20 ms


def _spawn(argv: list[str], env: dict[str, str], log: Path, marker: str | None) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(argv, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, preexec_fn=die_with_parent)
    deadline = time.monotonic() + 180
    while marker and marker not in log.read_text(errors="replace"):
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise RuntimeError(f"{argv[-1]} did not start; see {log}")
        time.sleep(0.2)
    return proc


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tick  # utime + stime


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _produce(bootstrap: str, titles: list[str], rate: float, run: str) -> tuple[float, float]:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=2)
    start_epoch = time.time()
    start = time.perf_counter()
    for n, title in enumerate(titles):
        value = {
            "source": "bench",
            "url": f"https://bench.example.com/{run}/{n}",
            "title": title,
            "fetched_at": datetime.now(UTC).isoformat(),
        }
        producer.send(topics.RAW, key=str(n).encode(), value=json.dumps(value).encode())
        # Paced in ticks, the way a crawler hands over a fetched feed: a sleep per record
        # would turn each record into its own produce request and cost the cores under test.
        ahead = (n + 1) / rate - (time.perf_counter() - start) if rate > 0 else 0.0
        if ahead > PACE_TICK_S:
            time.sleep(ahead)
    producer.flush()
    elapsed = time.perf_counter() - start
    producer.close()
    return start_epoch, elapsed


def _read_scored(bootstrap: str, expected: int, timeout: float) -> dict[str, tuple[float, float]]:
    """Doc id → (fetched_at, stored) epoch seconds of each scored document, by the scored record's timestamp."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        topics.SCORED,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        group_id=None,
    )
    seen: dict[str, tuple[float, float]] = {}
    deadline = time.monotonic() + timeout
    last = 0
    while len(seen) < expected and time.monotonic() < deadline:
        # a plain poll() loop spins a core on noida-db, which the pipeline under test then lacks;
        # latency does not depend on when this reader sees a record (it is the record's timestamp)
        for msg in poll_records(consumer, 1000):
            doc = json.loads(msg.value)
            seen[doc["id"]] = (datetime.fromisoformat(doc["fetched_at"]).timestamp(), msg.timestamp / 1000)
        if len(seen) // 500 != last // 500:
            progress(f"stored {len(seen)}/{expected}")
        last = len(seen)
    consumer.close()
    return seen


def _time_split(ports: list[int]) -> dict[str, float]:
    """Where the workers' batch time went: seconds summed over every worker's histograms."""
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    names = {"finsentry_batch_seconds": "batch_s", "finsentry_model_seconds": "model_s"}
    names["finsentry_store_write_seconds"] = "store_s"
    out = dict.fromkeys(names.values(), 0.0)
    for port in ports:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
            text = answer.read().decode()
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name.endswith("_sum") and sample.name[:-4] in names:
                    out[names[sample.name[:-4]]] += sample.value
    out["other_s"] = out["batch_s"] - out["model_s"] - out["store_s"]  # decode, stories, publish, commit
    return {k: round(v, 2) for k, v in out.items()}


def _steady_rate(stored: list[float]) -> float:
    """Docs/s stored over the middle half of the storing period: no start-up, no drain tail."""
    ordered = sorted(stored)
    lo, hi = ordered[len(ordered) // 4], ordered[3 * len(ordered) // 4]
    return round((len(ordered) // 2) / (hi - lo), 1) if hi > lo else 0.0


def run_one(workers: int, args: argparse.Namespace, titles: list[str], tickers: list[str]) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="fs-e2e-"))
    with EmbeddedBroker(tmp / "broker", free_port()) as broker:
        ensure_topics(broker.bootstrap, 4)
        env = {
            **os.environ,
            "FINSENTRY_HOME": str(tmp),
            "FINSENTRY_KAFKA__BOOTSTRAP": broker.bootstrap,
            "FINSENTRY_MODEL__CLASSIFIER_URL": args.classifier,
            "FINSENTRY_MODEL__THREADS": str(max(1, CORES // workers)),
            "FINSENTRY_WORKER__BATCH_WITHIN": str(args.batch_within),
            "PYTHONUNBUFFERED": "1",
        }
        parts: dict[str, subprocess.Popen[bytes]] = {}
        harness = AlertHarness(tmp, tickers) if args.alerts else None
        try:
            if args.serve:
                grpc = free_port()
                env["FINSENTRY_MODEL__CLASSIFIER_URL"] = f"triton://127.0.0.1:{grpc}"
                argv = [sys.executable, "-m", "finsentry.app.cli", "serve-model", "--grpc-port", str(grpc)]
                argv += ["--http-port", str(free_port()), "--metrics-port", str(free_port())]
                parts["model"] = _spawn(
                    argv, {**env, "FINSENTRY_MODEL__THREADS": str(CORES)}, tmp / "model.log", "serving finsentry"
                )
            ports = [free_port() for _ in range(workers)]
            for i in range(workers):
                argv = [sys.executable, "-m", "finsentry.app.cli", "worker"]
                wenv = {**env, "FINSENTRY_WORKER__INSTANCE_ID": f"w{i}", "FINSENTRY_METRICS__PORT": str(ports[i])}
                parts[f"worker-{i + 1}"] = _spawn(argv, wenv, tmp / f"worker-{i}.log", READY_MARKER)
            if harness:
                parts.update(harness.start(env, _spawn))
            pids = {"broker": broker.pid or 0, **{name: p.pid for name, p in parts.items()}}
            cpu0 = {name: _cpu_seconds(pid) for name, pid in pids.items()}
            own0 = time.process_time()
            progress(f"{workers} worker(s) ready; offering {len(titles)} docs at {args.rate or 'max'} docs/s")
            start, produced = _produce(broker.bootstrap, titles, args.rate, tmp.name)
            got = _read_scored(broker.bootstrap, len(titles), timeout=600)
            cpu = {name: round(_cpu_seconds(pid) - cpu0[name], 1) for name, pid in pids.items()}
            cpu["load generator"] = round(time.process_time() - own0, 1)  # this process: producer and reader
            if harness:  # the alert parts' work ends with the last delivery, not the last stored document
                harness.wait()
                cpu |= {name: round(_cpu_seconds(pids[name]) - cpu0[name], 1) for name in ("detector", "deliverer")}
            rss = {name: round(_rss_mb(pid), 1) for name, pid in pids.items()}
            split = _time_split(ports)
        finally:
            for p in parts.values():
                p.terminate()
                p.wait(30)
            if harness:
                harness.close()
    lat = [stored - fetched for fetched, stored in got.values()]
    end = max(stored for _, stored in got.values())
    wall = end - start
    alerts = harness.report(got) if harness else {}
    return {
        "workers": workers,
        "model": "serve-model" if args.serve else "in-process",
        "offered_docs_per_s": round(len(titles) / produced, 1),
        "docs": len(titles),
        "stored": len(got),
        "sustained_docs_per_s": round(len(got) / wall, 1),
        "steady_docs_per_s": _steady_rate([stored for _, stored in got.values()]),
        "latency_p50_s": round(statistics.median(lat), 3),
        "latency_p99_s": round(percentile(lat, 0.99), 3),
        "cpu_seconds": cpu,
        "peak_rss_mb": rss,
        "worker_time_s": split,
        **alerts,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--docs", type=int, default=4000)
    ap.add_argument("--rate", type=float, default=0.0, help="offered docs/s; 0 = as fast as possible")
    ap.add_argument("--classifier", default="local://current")
    ap.add_argument("--serve", action="store_true", help="the model behind finsentry serve-model (Triton)")
    ap.add_argument("--batch-within", type=float, default=0.1)
    ap.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    ap.add_argument("--alerts", action="store_true", help="also the alert detector and webhook deliverer")
    ap.add_argument("--bursts", type=int, default=10, help="with --alerts: negative bursts, one ticker each")
    args = ap.parse_args()
    rows = load_base()
    titles = [rows[n % len(rows)].text for n in range(args.docs)]
    titles, tickers = with_bursts(titles, args.bursts) if args.alerts else (titles, [])
    runs = [run_one(int(w), args, titles, tickers) for w in args.workers.split(",")]
    result = {"cores": CORES, "rate": args.rate, "batch_within": args.batch_within, "runs": runs}
    text = json.dumps(result, indent=2)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    sys.stdout.write(text + "\n")


if __name__ == "__main__":
    main()
