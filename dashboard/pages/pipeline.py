"""Pipeline and model: throughput, lag, dead letters, freshness, crawler health, model and drift."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import data, frames
from dashboard.backends import Backends, PageContext
from finsentry.protocols import SearchQuery

FRESHNESS_SAMPLE = 500
DRIFT_BUCKET_S = 3600


def render(ctx: PageContext) -> None:
    """Every panel reads through the same functions as ``finsentry status``/``stats``."""
    b = ctx.backends
    st.title("Pipeline & model")
    live = st.fragment(run_every=b.settings.refresh_s)(_live)
    live(b)
    with st.container(key="model-content"):
        _model(b)
        _drift(b)


def _live(b: Backends) -> None:
    with st.container(key="pipeline-content"):
        _throughput(b)
        _freshness(b)
        _crawlers(b)


def _throughput(b: Backends) -> None:
    st.subheader("Throughput")
    try:
        k = data.kafka(b, b.cache_key)
    except data.NotAvailable as exc:
        st.warning(str(exc))
        return
    rate_in, rate_out = rates(st.session_state, k.get("records", {}), time.monotonic())
    cols = st.columns(4)
    cols[0].metric("In (docs/s)", f"{rate_in:.1f}")
    cols[1].metric("Out (docs/s)", f"{rate_out:.1f}")
    cols[2].metric("Consumer lag", f"{k.get('lag', 0):,}")
    cols[3].metric("Dead letters", f"{k.get('dead_letters', 0):,}")
    try:
        stages = data.dead_letters(b, b.cache_key)
    except data.NotAvailable:
        return
    if stages:
        st.dataframe(
            pd.DataFrame([{"stage": s, "dead letters": n} for s, n in sorted(stages.items())]), hide_index=True
        )


def rates(state: Any, records: dict[str, int], now: float) -> tuple[float, float]:
    """Docs/s into ``news.raw`` and out of ``news.scored`` since this visitor's previous sample."""
    raw, scored = int(records.get("news.raw", 0)), int(records.get("news.scored", 0))
    last = state.get("pl_last")
    state["pl_last"] = (now, raw, scored)
    if not last or now <= last[0]:
        return 0.0, 0.0
    dt = now - last[0]
    return max(raw - last[1], 0) / dt, max(scored - last[2], 0) / dt


def _freshness(b: Backends) -> None:
    st.subheader("Freshness")
    docs = data.search(b, b.cache_key, SearchQuery(limit=FRESHNESS_SAMPLE).model_dump_json())
    stored = pd.Series([(d.scored_at - d.event_time).total_seconds() for d in docs], dtype=float)
    alerted = pd.Series(dtype=float)
    if b.alerts is not None:
        feed = data.alerts(b, b.cache_key, None, None, FRESHNESS_SAMPLE)
        alerted = pd.Series([(a.created_at - a.window_end).total_seconds() for a in feed], dtype=float)
    cols = st.columns(4)
    cols[0].metric("Published → stored p50", _seconds(stored, 0.5))
    cols[1].metric("Published → stored p95", _seconds(stored, 0.95))
    cols[2].metric("Window end → alerted p50", _seconds(alerted, 0.5))
    cols[3].metric("Window end → alerted p95", _seconds(alerted, 0.95))
    st.caption(f"Over the newest {len(stored)} documents and {len(alerted)} alerts.")


def _seconds(values: pd.Series, q: float) -> str:
    return "-" if values.empty else f"{values.quantile(q):.1f} s"


def _crawlers(b: Backends) -> None:
    st.subheader("Crawlers")
    try:
        feeds = data.feed_health(b, b.cache_key)
    except data.NotAvailable as exc:
        st.caption(str(exc))
        return
    if not feeds:
        st.caption("No feeds crawled yet.")
        return
    rows = [
        {
            "feed": f.name,
            "status": f.status,
            "last success": f.last_success_at,
            "last error": (f.last_error or "")[:200],
            "items seen": f.items_seen,
            "new": f.items_new,
            "next poll": f.next_poll_at,
        }
        for f in feeds
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True)


def _model(b: Backends) -> None:
    st.subheader("Model")
    try:
        m = data.model(b, b.cache_key)
    except data.NotAvailable as exc:
        st.warning(str(exc))
        return
    cols = st.columns([2, 1, 1])  # version names are long (date-time-hash)
    cols[0].metric("Current version", m.get("version") or "-")
    for col, head in zip(cols[1:], ("sentiment", "topic"), strict=True):
        f1 = m.get("metrics", {}).get(head)
        col.metric(f"{head.capitalize()} weighted F1", f"{f1:.3f}" if isinstance(f1, float) else "-")
    if m.get("card"):
        with st.expander("Model card"):
            st.markdown(m["card"])  # our own file from the registry, written by training


def _drift(b: Backends) -> None:
    st.subheader("Label distribution over time")
    since, until = data.time_range(b, timedelta(days=7))
    rows = data.counts(b, b.cache_key, frames.bucket_seconds(until - since) if since else DRIFT_BUCKET_S, since)
    if not rows:
        st.caption("No documents yet.")
        return
    df = pd.DataFrame([r.model_dump() for r in rows])
    sentiment = df.pivot_table(index="bucket", columns="sentiment", values="count", aggfunc="sum").fillna(0)
    st.area_chart(sentiment.div(sentiment.sum(axis=1), axis=0), height=220)
    st.dataframe(label_shares(df), hide_index=True)


def label_shares(df: pd.DataFrame) -> pd.DataFrame:
    """Share of each sentiment label over the whole period, most frequent first."""
    total = df.groupby("sentiment")["count"].sum().sort_values(ascending=False)
    return pd.DataFrame({"sentiment": total.index, "documents": total.values, "share": (total / total.sum()).values})
