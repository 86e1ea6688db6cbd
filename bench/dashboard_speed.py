"""Each dashboard page's time to content at N stored documents (SQLite by default).

Seeds a store with N synthetic scored documents (7 days, 200 tickers, every topic, syndicated
copies) and 200 alerts with 20 stories of evidence each, then draws every page of the real app
in Streamlit's test harness: ``cold_s`` is the first draw (empty caches: every store read
happens), ``warm_s`` the next one within the TTL.
Prints one JSON object on stdout; progress on stderr. Usage:
    python bench/dashboard_speed.py [--docs 100000] [--store sqlite:///path.db | http://es:9200 | noida] [--repeat 3]
"""

from __future__ import annotations

import argparse
import bisect
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from streamlit.testing.v1 import AppTest

from dashboard.app import PAGES
from dashboard.backends import Backends
from finsentry.app.factory import make_alert_stores, make_label_store, make_store
from finsentry.protocols import AlertStore
from finsentry.schemas import Alert, ScoredDoc
from finsentry.settings import DashboardSettings, Settings, StoreSettings
from models.labels import SENTIMENTS, TOPICS

END = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def progress(msg: str) -> None:
    sys.stderr.write(f"[bench] {msg}\n")
    sys.stderr.flush()


def synthetic(n: int, seed: int = 7) -> list[ScoredDoc]:
    """N scored documents over 7 days; one in ten is a syndicated copy of the one before it."""
    rng = random.Random(seed)
    tickers = [f"T{i:03d}" for i in range(200)]
    docs: list[ScoredDoc] = []
    for i in range(n):
        when = END - timedelta(seconds=rng.uniform(0, 7 * 86400))
        probs = dict(zip(SENTIMENTS, _simplex(rng), strict=True))
        sentiment = max(probs, key=lambda k: probs[k])
        topic = rng.choice(TOPICS)
        tick = rng.sample(tickers, rng.choice((0, 1, 1, 2)))
        story = docs[-1].story_id if docs and i % 10 == 0 else ""
        docs.append(
            ScoredDoc(
                id=f"b{i:07d}",
                source=f"wire-{i % 12}",
                url=f"https://news.example.com/{i}",
                title=f"{' '.join('$' + t for t in tick)} {topic} update {i} on markets and earnings",
                published_at=when,
                tickers=tick,
                sentiment=sentiment,
                sentiment_score=probs[sentiment],
                sentiment_scores=probs,
                topic=topic,
                topic_score=0.9,
                topic_scores={topic: 0.9},
                signed_score=probs["positive"] - probs["negative"],
                model_version="bench-v1",
                story_id=story,
                scored_at=when + timedelta(seconds=rng.uniform(0.5, 5)),
            )
        )
    return docs


def seed_alerts(store: AlertStore, docs: list[ScoredDoc], n: int = 200) -> None:
    """N alerts over every document, spread over the week, each with its window's 20 newest stories as evidence."""
    ordered = sorted(docs, key=lambda d: d.event_time)
    times = [d.event_time for d in ordered]
    for i in range(n):
        end = END - timedelta(minutes=50 * i)
        in_window = ordered[bisect.bisect_left(times, end - timedelta(minutes=15)) : bisect.bisect_left(times, end)]
        evidence = in_window[::-1][:20]
        store.put_alert(
            Alert(
                id=f"al{i:04d}",
                rule="negative-burst",
                dimension="all",
                key="all",
                state="firing" if i % 3 else "resolved",
                window_start=end - timedelta(minutes=15),
                window_end=end,
                count=len(evidence),
                baseline=2.0,
                statistic="poisson",
                score=6.0,
                doc_ids=[d.id for d in evidence],
                created_at=end,
                updated_at=end,
            )
        )


def _simplex(rng: random.Random) -> list[float]:
    raw = [rng.random() ** 2 for _ in SENTIMENTS]
    total = sum(raw)
    return [r / total for r in raw]


def _script(backends: object, page: object) -> None:
    # Streamlit runs this function's source as a script, where only builtins name the annotations.
    from dashboard.app import render

    render(backends, page=page)  # type: ignore[arg-type]


def time_page(backends: Backends, page: str, whole_week: bool = False) -> dict[str, Any]:
    """Seconds of a cold draw (new session, caches cleared) and of a warm one.

    ``whole_week``: the Overview over every stored document (its range set to 7 days) instead of its default.
    """
    import streamlit as st

    colds, warms = [], []
    for _ in range(ARGS.repeat):
        st.cache_data.clear()
        at = AppTest.from_function(_script, kwargs={"backends": backends, "page": page}, default_timeout=120)
        if whole_week:
            at.run()
            at.selectbox(key="ov_range").select("Last 7 days")
            st.cache_data.clear()
        start = time.perf_counter()
        at.run()
        colds.append(time.perf_counter() - start)
        if at.exception:
            raise RuntimeError(f"{page}: {at.exception[0].value}")
        start = time.perf_counter()
        at.run()
        warms.append(time.perf_counter() - start)
    return {"cold_s": round(statistics.median(colds), 3), "warm_s": round(statistics.median(warms), 3)}


def main() -> None:
    if ARGS.store == "noida":
        from store import noida_search  # bench/store.py: noida-db's Elasticsearch API on a free port

        with noida_search() as url:
            measure(url)
    else:
        measure(ARGS.store)


def measure(store_url: str | None) -> None:
    """Seed a store, draw every page, print the JSON."""
    tmp = tempfile.mkdtemp(prefix="bench-dash-")
    url = store_url or f"sqlite:///{tmp}/docs.db"
    settings = Settings(home=Path(tmp), store=StoreSettings(url=url, request_timeout_s=120))
    store = make_store(settings)
    started = time.perf_counter()
    docs = synthetic(ARGS.docs)
    for i in range(0, len(docs), 5000):
        store.upsert(docs[i : i + 5000])
        progress(f"stored {min(i + 5000, len(docs))}/{len(docs)}")
    deadline = time.monotonic() + 300
    while store.total() < len(docs) and time.monotonic() < deadline:  # a search index shows writes on refresh
        time.sleep(0.5)
    alerts = make_alert_stores(settings).alerts
    seed_alerts(alerts, docs)
    seed_s = time.perf_counter() - started
    backends = Backends(
        docs=store,
        labels=make_label_store(settings),
        alerts=alerts,
        settings=DashboardSettings(refresh_s=3600),
        sentiments=SENTIMENTS,
        topics=TOPICS,
        clock=lambda: END,
    )
    pages = {}
    for page in PAGES:
        pages[page] = time_page(backends, page)
        progress(f"{page}: {pages[page]}")
    pages["overview_7_days"] = time_page(backends, "overview", whole_week=True)
    progress(f"overview over 7 days: {pages['overview_7_days']}")
    out = {"docs": ARGS.docs, "store": url.split(":", 1)[0], "seed_s": round(seed_s, 1), "pages": pages}
    out["slowest_cold_s"] = max(p["cold_s"] for p in pages.values())
    sys.stdout.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument(
        "--store", default=None, help="store URL (default: a fresh SQLite file; noida: noida-db's Elasticsearch API)"
    )
    parser.add_argument("--repeat", type=int, default=3)
    ARGS = parser.parse_args()
    main()
