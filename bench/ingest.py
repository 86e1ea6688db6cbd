"""Crawler CPU path: items/s through parse + normalise + story + produce; grouping and ticker quality.

Builds RSS 2.0 feeds from the repository's headlines (a third of them syndicated copies with wire
prefixes and suffixes), then, in ``--procs`` processes each taking its share of the feeds:
feed parsing (expat for plain well-formed feeds, feedparser for the rest) + normalisation (clean
text, UTC times, language, tickers) → story assignment in a shared SQLite story index → produce
to ``news.raw`` on a real embedded broker, acknowledged.
The clock starts once every process is imported and warmed up. Prints one JSON object.
Usage: python bench/ingest.py [--items 20000] [--procs 2]
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import free_port  # noqa: E402
from finsentry.broker import EmbeddedBroker, ensure_topics  # noqa: E402
from finsentry.schemas import NewsItem, ScoredDoc  # noqa: E402

PER_FEED = 500
WIRES = [("UPDATE 1-", ""), ("", " - Reuters"), ("BRIEF-", ""), ("", " | Bloomberg")]


def _headlines() -> list[str]:
    with (ROOT / "models" / "data" / "sentiment" / "train.csv").open(encoding="utf-8") as fh:
        rows = [r["text"].split("https://")[0].strip() for r in csv.DictReader(fh)]
    return [r for r in rows if len(r) > 20]


def build_feeds(n_items: int, seed: int = 7) -> list[bytes]:
    """RSS 2.0 documents of PER_FEED items: headlines with HTML bodies, a third re-published by other wires."""
    rng = random.Random(seed)
    heads = _headlines()
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    items = []
    for i in range(n_items):
        base = heads[i % len(heads)] if rng.random() > 0.33 or i < 10 else heads[(i - rng.randint(1, 9)) % len(heads)]
        prefix, suffix = rng.choice(WIRES)
        when = format_datetime(t0 + timedelta(seconds=30 * i))
        body = f"<p>{escape(base)}</p><script>track({i})</script><p>More &amp; more detail on the story.</p>"
        items.append(
            f"<item><title>{escape(prefix + base + suffix)}</title><link>https://wire{i % 7}.example/n/{i}</link>"
            f"<guid>g{i}</guid><description>{escape(body)}</description><pubDate>{when}</pubDate></item>"
        )
    feeds = []
    for start in range(0, n_items, PER_FEED):
        chunk = "".join(items[start : start + PER_FEED])
        head = '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>w</title>'
        feeds.append(f"{head}{chunk}</channel></rss>".encode())
    return feeds


def _scored(item: NewsItem) -> ScoredDoc:
    # the worker's prediction does not matter here: only grouping reads the document
    return ScoredDoc(**item.model_dump(exclude={"schema_"}), sentiment="neutral", sentiment_score=1.0,
                     topic="General News | Opinion", topic_score=1.0, model_version="bench")  # fmt: skip


def run_share(feeds: list[bytes], bootstrap: str, db_path: str, out: Any, ready: Any, go: Any) -> None:
    """Parse, normalise, group and produce ``feeds``; put per-stage seconds and counts on ``out``.

    Signals ``ready`` once imported and warmed up, then waits for ``go``: the clock measures the
    path, not the interpreter's start.
    """
    from finsentry.store.sqlite_feeds import SqliteStoryIndex
    from finsentry.store.sqlitedb import SqliteDatabase
    from ingest.normalise import detect_language
    from ingest.parse import parse_feed
    from ingest.producer import KafkaSink
    from ingest.tickers import link_tickers

    detect_language("warm up the language models"), link_tickers("Apple warms up", "")
    stories = SqliteStoryIndex(SqliteDatabase(Path(db_path)))
    sink = KafkaSink(bootstrap)
    ready.release()
    go.wait()
    stage = {"parse_normalise": 0.0, "story": 0.0, "produce": 0.0}
    cpu_start = time.process_time()
    items = 0
    story_ids: set[str] = set()
    for doc in feeds:
        t = time.perf_counter()
        parsed = parse_feed(doc, "application/rss+xml", "bench", datetime.now(UTC))
        t1 = time.perf_counter()
        grouped = stories.assign([_scored(i) for i in parsed.items])
        t2 = time.perf_counter()
        sink.send(parsed.items)
        t3 = time.perf_counter()
        stage["parse_normalise"] += t1 - t
        stage["story"] += t2 - t1
        stage["produce"] += t3 - t2
        items += len(parsed.items)
        story_ids.update(d.story_id for d in grouped)
    sink.close()
    out.put({"items": items, "stories": len(story_ids), "cpu_s": time.process_time() - cpu_start, **stage})


def measure(feeds: list[bytes], bootstrap: str, procs: int, tmp: Path) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    queue, ready, go = ctx.Queue(), ctx.Semaphore(0), ctx.Event()
    db = str(tmp / f"stories-{procs}.db")
    shares = [feeds[i::procs] for i in range(procs)]
    workers = [ctx.Process(target=run_share, args=(s, bootstrap, db, queue, ready, go)) for s in shares]
    for w in workers:
        w.start()
    for _ in workers:
        ready.acquire(timeout=300)
    started = time.perf_counter()
    go.set()
    results = [queue.get(timeout=900) for _ in workers]
    elapsed = time.perf_counter() - started
    for w in workers:
        w.join()
    items = sum(r["items"] for r in results)
    stages = {k: round(sum(r[k] for r in results), 2) for k in ("parse_normalise", "story", "produce")}
    cpu_s = sum(r["cpu_s"] for r in results)
    # on a shared host wall time includes other programs' CPU use: per CPU-second is the path's own cost
    return {"procs": procs, "items": items, "seconds": round(elapsed, 2), "items_per_s": round(items / elapsed),
            "cpu_seconds": round(cpu_s, 2), "items_per_cpu_s": round(items / cpu_s),
            "stage_wall_seconds": stages, "stories": sum(r["stories"] for r in results)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--procs", type=int, default=2)
    args = parser.parse_args()
    from tests.ingest.story_eval import grouping_scores
    from tests.ingest.ticker_eval import ticker_scores

    feeds = build_feeds(args.items)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        broker = EmbeddedBroker(tmp / "broker", free_port())
        broker.start()
        try:
            ensure_topics(broker.bootstrap, 4)
            runs = [measure(feeds, broker.bootstrap, p, tmp) for p in sorted({1, args.procs})]
        finally:
            broker.stop()
        from finsentry.store.sqlite_feeds import SqliteStoryIndex
        from finsentry.store.sqlitedb import SqliteDatabase

        grouping = grouping_scores(SqliteStoryIndex(SqliteDatabase(tmp / "eval.db")))
    result = {
        "bench": "ingest",
        "path": "feedparser + normalise (text, UTC, language, tickers) + SQLite story index + kafka-python acks=all",
        "runs": runs,
        "items_per_s": runs[-1]["items_per_s"],
        "items_per_s_two_cores_cpu_bound": 2 * runs[0]["items_per_cpu_s"],
        "target_items_per_s": 2000,
        "grouping": {k: round(v, 4) if isinstance(v, float) else v for k, v in grouping.items()},
        "tickers": {k: round(v, 4) if isinstance(v, float) else v for k, v in ticker_scores().items()},
    }
    sys.stdout.write(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
