"""Alerts: the feed, and one alert's evidence at the stable URL ``/alerts?id=<alert id>``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import data, frames, safe
from dashboard.backends import Backends, PageContext
from finsentry.protocols import SearchQuery, TrendQuery
from finsentry.schemas import Alert, AlertState, ScoredDoc

FEED_LIMIT = 200
HISTORY_WINDOWS = 24  # windows of the key shown before the alert's latest one
STATES: dict[str, AlertState | None] = {"Firing and resolved": None, "Firing": "firing", "Resolved": "resolved"}


def render(ctx: PageContext) -> None:
    """The feed with a selector; the selection is the ``id`` query parameter, so URLs are shareable."""
    b = ctx.backends
    st.title("Alerts")
    if b.alerts is None:
        st.info("No alert store is configured for this installation: no alerts to show.")
        return
    state = STATES[str(st.radio("State", list(STATES), horizontal=True, key="al_state"))]
    feed = data.alerts(b, b.cache_key, state, None, FEED_LIMIT)
    wanted = st.query_params.get("id")
    with st.container(key="alerts-content"):
        st.metric("Alerts", len(feed))
        if not feed and not wanted:
            st.info("No alerts yet.")
            return
        if feed:
            st.dataframe(_feed_frame(b, feed), hide_index=True, column_config=_feed_columns())
        chosen = _select(feed, wanted)
        if chosen:
            st.query_params["id"] = chosen
            _detail(b, chosen)


def _feed_frame(b: Backends, feed: list[Alert]) -> pd.DataFrame:
    base = b.settings.url.rstrip("/")
    rows = [
        {
            "severity": a.severity,
            "state": a.state,
            "rule": a.rule,
            "key": f"{a.dimension}:{a.key}",
            "stories": a.count,
            "baseline": a.baseline,
            "score": a.score,
            "window end": a.window_end,
            "updated": a.updated_at,
            "link": f"{base}/alerts?id={a.id}",
        }
        for a in feed
    ]
    return pd.DataFrame(rows)


def _feed_columns() -> dict[str, Any]:
    return {
        "link": st.column_config.LinkColumn("link", display_text="open"),
        "baseline": st.column_config.NumberColumn(format="%.2f"),
        "score": st.column_config.NumberColumn(format="%.2f"),
    }


def _select(feed: list[Alert], wanted: str | None) -> str | None:
    ids = [a.id for a in feed]
    if wanted and wanted not in ids:
        ids.insert(0, wanted)  # a link to an alert older than the feed's page still opens it
    labels = {
        a.id: f"{a.severity} · {a.state} · {a.dimension} {a.key} · {a.rule} · {a.window_end:%Y-%m-%d %H:%M}"
        for a in feed
    }
    index = ids.index(wanted) if wanted in ids else 0
    chosen = st.selectbox("Alert", ids, index=index, format_func=lambda i: labels.get(i, i), key="al_pick")
    return str(chosen) if chosen else None


def _detail(b: Backends, alert_id: str) -> None:
    a = data.alert(b, b.cache_key, alert_id)
    if a is None:
        st.warning("No alert with this id.")
        return
    with st.container(key="alert-detail", border=True):
        st.subheader(f"{a.severity.upper()} · {a.state} · {a.dimension} {safe.md_text(a.key, 100)}")
        cols = st.columns(3)
        cols[0].metric("Stories in window", a.count)
        cols[1].metric("Baseline", f"{a.baseline:.2f}")
        cols[2].metric(a.statistic or "Statistic", f"{a.score:.2f}", help=f"threshold {a.threshold:.2f}")
        st.caption(
            f"Rule {safe.md_text(a.rule, 100)} · model {safe.md_text(a.model_version or '-', 80)}"
            f" · window {a.window_start:%Y-%m-%d %H:%M} - {a.window_end:%H:%M} UTC · first fired "
            f"{(a.first_window_start or a.window_start):%Y-%m-%d %H:%M} · updated {a.updated_at:%Y-%m-%d %H:%M:%S}"
            + (f" · resolved {a.resolved_at:%Y-%m-%d %H:%M}" if a.resolved_at else "")
        )
        _history(b, a)
        st.markdown("**Evidence: the stories behind the window**")
        docs = evidence(b, a)
        st.dataframe(evidence_frame(docs), hide_index=True)
        missing = len(a.doc_ids) - len(docs)
        if missing:
            st.caption(f"{missing} evidence document(s) are no longer in the store.")


def _key_filter(a: Alert) -> dict[str, str]:
    return {a.dimension: a.key} if a.dimension in ("ticker", "topic", "source") else {}


def evidence(b: Backends, a: Alert) -> list[ScoredDoc]:
    """The alert's evidence documents in its order: one search of its window, a lookup for the rest.

    One query instead of one per document: on a search server a lookup by id costs a query too.
    """
    q = SearchQuery(since=a.window_start, until=a.window_end, limit=1_000, **_key_filter(a))
    found = {d.id: d for d in data.search(b, b.cache_key, q.model_dump_json())}
    docs = (found.get(i) or data.get_doc(b, b.cache_key, i) for i in a.doc_ids)
    return [d for d in docs if d is not None]


def evidence_frame(docs: list[ScoredDoc]) -> pd.DataFrame:
    """The stories behind an alert: text is shown as text by the table, clipped for the row."""
    rows = [
        {
            "published": d.event_time,
            "title": safe.clip(d.title, 300),
            "sentiment": d.sentiment,
            "score": d.signed_score,
            "topic": d.topic,
            "source": d.source,
            "id": d.id,
        }
        for d in docs
    ]
    return pd.DataFrame(rows, columns=["published", "title", "sentiment", "score", "topic", "source", "id"])


def _history(b: Backends, a: Alert) -> None:
    width = max(int((a.window_end - a.window_start).total_seconds()), 60)
    since = a.window_end - timedelta(seconds=width * HISTORY_WINDOWS)
    q = TrendQuery(bucket_seconds=width, dimension="all", since=since, until=a.window_end, **_key_filter(a))
    try:
        df = frames.trend_frame(data.trend(b, b.cache_key, q.model_dump_json()))
    except data.NotAvailable:
        return
    if not df.empty:
        st.markdown(f"**Recent windows of {safe.md_text(a.key, 100)}** (stories and negatives per window)")
        st.bar_chart(df.set_index("bucket")[["stories", "negative"]], height=200, stack=False)
