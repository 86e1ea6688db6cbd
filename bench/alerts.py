"""Alert benchmark: detection cost per scored document (recounts from a SQLite store) and
webhook deliveries per second to a real local receiver. Prints JSON.

    python bench/alerts.py --history 20000 --tickers 50 --docs 3000 --batch 500 --deliveries 300
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from alerts.deliver import Deliverer, PayloadBuilder
from alerts.detect import EVENT_FIRING, Change, Detector
from alerts.rules import load_rules
from alerts.webhooks import new_secret
from finsentry.schemas import Alert, ScoredDoc, Subscriber
from finsentry.settings import WebhookSettings
from finsentry.store.sqlite import SqliteStore
from finsentry.store.sqlite_alerts import SqliteAlertStore, SqliteDeliveryStore, SqliteSubscriberStore
from finsentry.store.sqlitedb import SqliteDatabase


def doc(n: int, at: datetime, ticker: str, rng: random.Random) -> ScoredDoc:
    sentiment = rng.choices(["negative", "neutral", "positive"], [0.3, 0.4, 0.3])[0]
    scores = {"negative": 0.1, "neutral": 0.1, "positive": 0.1} | {sentiment: 0.8}
    return ScoredDoc(
        id=f"d{n:08d}", source=f"src{n % 7}", url=f"https://n.example.com/{n}", title=f"${ticker} news {n}",
        published_at=at, tickers=[ticker], sentiment=sentiment, sentiment_score=0.8, sentiment_scores=scores,
        signed_score=scores["positive"] - scores["negative"], topic=f"topic{n % 5}", topic_score=0.9,
        model_version="bench",
    )  # fmt: skip


def detection(db: SqliteDatabase, history: int, tickers: int, docs: int, batch: int) -> dict[str, Any]:
    rng = random.Random(7)
    store, alerts = SqliteStore(db), SqliteAlertStore(db)
    now = datetime.now(UTC).replace(microsecond=0)
    names = [f"T{i:03d}" for i in range(tickers)]
    span = timedelta(hours=4).total_seconds()
    past = [doc(i, now - timedelta(seconds=rng.uniform(60, span)), rng.choice(names), rng) for i in range(history)]
    for i in range(0, len(past), 1000):
        store.upsert(past[i : i + 1000])
    det = Detector(load_rules(None), store, alerts, clock=lambda: now)
    new = [doc(history + i, now - timedelta(seconds=rng.uniform(0, 50)), rng.choice(names), rng) for i in range(docs)]
    elapsed, changes = 0.0, 0
    for i in range(0, len(new), batch):
        chunk = new[i : i + batch]
        store.upsert(chunk)  # the worker's write comes first and is not the detector's cost
        t0 = time.perf_counter()
        changes += sum(1 for t in det.targets(chunk) if det.evaluate(t) is not None)
        elapsed += time.perf_counter() - t0
    return {"history_docs": history, "tickers": tickers, "scored_docs": docs, "batch": batch,
            "rules": len(det.rules), "ms_per_doc": round(1000 * elapsed / docs, 3),
            "docs_per_s": round(docs / elapsed, 1), "alert_changes": changes}  # fmt: skip


class _Ok(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", "0")))
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def delivery(db: SqliteDatabase, n: int) -> dict[str, Any]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    subs, deliveries = SqliteSubscriberStore(db), SqliteDeliveryStore(db)
    subs.put_subscriber(
        Subscriber(id="bench", url=f"http://127.0.0.1:{server.server_address[1]}/h", secrets=[new_secret()])
    )
    t = datetime.now(UTC)
    with httpx.Client(timeout=5, follow_redirects=False, trust_env=False) as client:
        d = Deliverer(subs, deliveries, PayloadBuilder(SqliteStore(db), "http://dash"),
                      WebhookSettings(allow_networks=["127.0.0.1/32"]), client)  # fmt: skip
        for i in range(n):
            a = Alert(id=f"a{i}", rule="r", key=f"K{i}", window_start=t, window_end=t, count=5, doc_ids=[])
            d.enqueue([Change(a, EVENT_FIRING)])
        start = time.perf_counter()
        sent = d.send_due()
        elapsed = time.perf_counter() - start
    server.shutdown()
    delivered = len(deliveries.list_deliveries(status="delivered", limit=n + 10))
    return {"deliveries": sent, "delivered": delivered, "deliveries_per_s": round(sent / elapsed, 1)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--history", type=int, default=20_000)
    p.add_argument("--tickers", type=int, default=50)
    p.add_argument("--docs", type=int, default=3_000)
    p.add_argument("--batch", type=int, default=500)
    p.add_argument("--deliveries", type=int, default=300)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = SqliteDatabase(Path(tmp) / "bench.db")
        out = {"detection": detection(db, args.history, args.tickers, args.docs, args.batch),
               "delivery": delivery(db, args.deliveries)}  # fmt: skip
        db.close()
    sys.stdout.write(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
