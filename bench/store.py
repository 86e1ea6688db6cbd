"""Document store speed per backend: bulk upsert docs/s, trend aggregation and filtered search latency.

    python bench/store.py --docs 100000 [--backends sqlite,elasticsearch] [--es-url http://...]

Without ``--es-url`` the Elasticsearch side is noida-db's Elasticsearch API, started here on a free
port (its numbers are noida-db's, not Elasticsearch's). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from common import free_port

from finsentry.broker import noida_binary, wait_for_port
from finsentry.protocols import ManagedStore, SearchQuery, TrendQuery
from finsentry.schemas import NewsItem, Prediction, ScoredDoc
from finsentry.settings import StoreSettings
from finsentry.store.elasticsearch import ElasticsearchStore
from finsentry.store.es import make_es_client
from finsentry.store.sqlite import SqliteStore

END = datetime(2026, 11, 28, tzinfo=UTC)
TOPICS = ["Earnings", "Energy | Oil", "M&A", "Macro", "Fed | Central Banks", "Stock Commentary", "IPO"]
TICKERS = ["ACME", "OILX", "BNKR", "TECH", "RETL", "PHRM", "AUTO", "MINE"]
_TEXT = """shares fall rise rally slump profit loss warning beat miss guidance merger deal oil bank rate cut
hike inflation jobs growth outlook recall lawsuit upgrade downgrade dividend buyback record quarter"""
WORDS = _TEXT.split()
SENTIMENTS = ["negative", "neutral", "positive"]


def make_docs(n: int, seed: int = 7) -> list[ScoredDoc]:
    """``n`` synthetic scored documents over the 30 days before END."""
    rng = random.Random(seed)
    docs = []
    for i in range(n):
        neg = rng.random()
        pos = rng.random() * (1 - neg)
        scores = {"negative": neg, "positive": pos, "neutral": 1 - neg - pos}
        tickers = rng.sample(TICKERS, rng.choice([0, 1, 1, 2]))
        item = NewsItem(
            id=f"doc{i:08d}",
            source=f"wire{i % 5}",
            title=" ".join(rng.choice(WORDS) for _ in range(9)),
            published_at=END - timedelta(seconds=rng.randrange(30 * 86400)),
            tickers=tickers,
        )
        topic = rng.choice(TOPICS)
        pred = Prediction(
            sentiment=max(scores, key=lambda k: scores[k]),
            sentiment_scores=scores,
            topic=topic,
            topic_scores={topic: 0.9},
            model_version="bench",
        )
        doc = ScoredDoc.from_prediction(item, pred)
        docs.append(doc.model_copy(update={"story_id": f"story{i // 3}"}))
    return docs


@contextmanager
def noida_search() -> Iterator[str]:
    """noida-db's Elasticsearch API on a free port, stopped on exit."""
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        argv = [noida_binary(), "start", "--data-dir", tmp, "--host", "127.0.0.1", "--only", "elasticsearch"]
        argv += ["--elasticsearch-port", str(port)]
        # its own process group: the launcher starts the server as a child, both must stop
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_for_port("127.0.0.1", port, 30)
            yield f"http://127.0.0.1:{port}"
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(30)


def latencies_ms(fn: Callable[[int], object], n: int) -> dict[str, float]:
    """p50/p99 of ``fn(i)`` over ``n`` calls in milliseconds: wall clock, and this thread's CPU time.

    The CPU time is what an in-process store (SQLite) costs regardless of other load on the host;
    a server's work (Elasticsearch) is not in it.
    """
    wall, cpu = [], []
    for i in range(n):
        start, start_cpu = time.perf_counter(), time.thread_time()
        fn(i)
        wall.append((time.perf_counter() - start) * 1000)
        cpu.append((time.thread_time() - start_cpu) * 1000)
    wall.sort()
    cpu.sort()
    p99 = min(n - 1, int(n * 0.99))
    return {
        "p50_ms": round(statistics.median(wall), 2),
        "p99_ms": round(wall[p99], 2),
        "cpu_p50_ms": round(statistics.median(cpu), 2),
        "cpu_p99_ms": round(cpu[p99], 2),
    }


def measure(store: ManagedStore, docs: list[ScoredDoc], queries: int, batch: int) -> dict[str, Any]:
    """Bulk upsert, then the dashboard's trend (hourly x topic, last 7 days) and a filtered search."""
    start, start_cpu = time.perf_counter(), time.thread_time()
    for i in range(0, len(docs), batch):
        store.upsert(docs[i : i + batch])
    upsert_s, upsert_cpu_s = time.perf_counter() - start, time.thread_time() - start_cpu
    _settle(store, len(docs))
    trend = TrendQuery(bucket_seconds=3600, dimension="topic", since=END - timedelta(days=7), until=END)
    since = END - timedelta(days=14)

    def search(i: int) -> object:
        return store.search(SearchQuery(text=WORDS[i % len(WORDS)], topic=TOPICS[i % len(TOPICS)], since=since))

    return {
        "documents": store.total(),
        "bulk_docs_per_s": round(len(docs) / upsert_s, 1),
        "bulk_docs_per_cpu_s": round(len(docs) / upsert_cpu_s, 1),
        "trend_hourly_by_topic_7d": latencies_ms(lambda i: store.trend(trend), queries),
        "filtered_full_text_search": latencies_ms(search, queries),
    }


def _settle(store: ManagedStore, n: int) -> None:
    deadline = time.monotonic() + 60
    while store.total() < n and time.monotonic() < deadline:
        time.sleep(0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--backends", default="sqlite,elasticsearch")
    parser.add_argument("--es-url", default=None, help="a real cluster; default: noida-db started here")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--es-queries", type=int, default=20, help="noida-db answers aggregations slowly")
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    docs = make_docs(args.docs)
    out: dict[str, Any] = {"docs": args.docs, "queries": args.queries, "es_queries": args.es_queries}
    if "sqlite" in args.backends:
        with tempfile.TemporaryDirectory() as tmp:
            out["sqlite"] = measure(SqliteStore(Path(tmp) / "bench.db"), docs, args.queries, args.batch)
            sys.stderr.write(json.dumps({"sqlite": out["sqlite"]}) + "\n")  # partial result, in case
    if "elasticsearch" in args.backends:
        with noida_search() if args.es_url is None else _given(args.es_url) as url:
            store = ElasticsearchStore(make_es_client(StoreSettings(url=url, request_timeout_s=120)), "bench", url=url)
            store.ensure()
            name = "noida_db_elasticsearch_api" if args.es_url is None else "elasticsearch"
            out[name] = measure(store, docs, args.es_queries, args.batch)
            store.drop_all()
    sys.stdout.write(json.dumps(out, indent=2) + "\n")


@contextmanager
def _given(url: str) -> Iterator[str]:
    yield url


if __name__ == "__main__":
    main()
