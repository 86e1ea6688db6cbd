"""End-to-end throughput: headlines through the real broker and N real workers into the store.

Prints one JSON object on stdout; progress on stderr. Usage:
    python bench/pipeline.py [--docs 3000] [--workers 1] [--classifier local://current]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import free_port

from finsentry.broker import EmbeddedBroker, ensure_topics
from finsentry.proc import die_with_parent
from finsentry.store.sqlite import SqliteStore
from ingest.replay import replay
from models.dataset import load_base
from stream.worker import READY_MARKER


def progress(msg: str) -> None:
    sys.stderr.write(f"[bench] {msg}\n")
    sys.stderr.flush()


def _start_worker(env: dict[str, str], i: int, log_dir: Path) -> subprocess.Popen[bytes]:
    log = log_dir / f"worker-{i}.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "finsentry.app.cli", "worker"],
        env={**env, "FINSENTRY_WORKER__INSTANCE_ID": f"w{i}"},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        preexec_fn=die_with_parent,
    )
    deadline = time.monotonic() + 90
    while READY_MARKER not in log.read_text(errors="replace"):
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise RuntimeError(f"worker {i} did not start; see {log}")
        time.sleep(0.2)
    return proc


def _run(store_path: Path, feed: Path, bootstrap: str, docs: int) -> tuple[float, float]:
    """Produce the feed and wait until every document is stored; (elapsed, produce) seconds."""
    store = SqliteStore(store_path)
    start = time.perf_counter()
    replay(feed, bootstrap)
    produced = time.perf_counter() - start
    progress(f"produced {docs} in {produced:.1f}s")
    last = -1
    while (n := store.total()) < docs:
        if n != last:
            progress(f"stored {n}/{docs}")
            last = n
        time.sleep(0.5)
    return time.perf_counter() - start, produced


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=3000)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--classifier", default="local://current")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="fs-bench-"))
    feed = tmp / "feed.jsonl"
    rows = load_base()
    feed.write_text(
        "\n".join(
            json.dumps({"source": "bench", "url": f"https://bench.example.com/{n}", "title": rows[n % len(rows)].text})
            for n in range(args.docs)
        )
        + "\n"
    )
    with EmbeddedBroker(tmp / "broker", free_port()) as broker:
        ensure_topics(broker.bootstrap, 4)
        env = {
            **os.environ,
            "FINSENTRY_KAFKA__BOOTSTRAP": broker.bootstrap,
            "FINSENTRY_HOME": str(tmp),
            "FINSENTRY_STORE__URL": f"sqlite:///{tmp}/docs.db",
            "FINSENTRY_MODEL__CLASSIFIER_URL": args.classifier,
            "PYTHONUNBUFFERED": "1",
        }
        workers: list[subprocess.Popen[bytes]] = []
        try:
            workers += [_start_worker(env, i, tmp) for i in range(args.workers)]
            elapsed, produced = _run(store_path=tmp / "docs.db", feed=feed, bootstrap=broker.bootstrap, docs=args.docs)
        finally:
            for w in workers:
                w.terminate()
                w.wait(30)
    result = {
        "docs": args.docs,
        "workers": args.workers,
        "classifier": args.classifier,
        "produce_docs_per_s": round(args.docs / produced, 1),
        "end_to_end_docs_per_s": round(args.docs / elapsed, 1),
        "seconds": round(elapsed, 2),
    }
    sys.stdout.write(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
