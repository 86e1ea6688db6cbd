"""Tickers: one ticker's sentiment timeline with its stories and alerts."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

import pandas as pd
import streamlit as st

from dashboard import data, frames, widgets
from dashboard.backends import Backends, PageContext
from dashboard.pages.search import results_frame
from finsentry.protocols import SearchQuery, TrendQuery
from finsentry.schemas import ScoredDoc

STORIES_LIMIT = 100
SAMPLE = 500


def render(ctx: PageContext) -> None:
    """Pick a ticker (the most mentioned one by default), then its timeline, stories and alerts."""
    b = ctx.backends
    st.title("Tickers")
    cols = st.columns([2, 1])
    with cols[1]:
        span = widgets.range_select("tk_range", default="Last 24 hours")
    since, until = data.time_range(b, span)
    with cols[0]:
        ticker = _ticker(b, since, until)
    with st.container(key="tickers-content"):
        if not ticker:
            st.info("No tickers mentioned in this range yet.")
            return
        st.subheader(f"${ticker}")
        _timeline(b, ticker, span, since, until)
        _stories(b, ticker, since)
        _alerts(b, ticker)


def _ticker(b: Backends, since: datetime | None, until: datetime) -> str | None:
    typed = widgets.text_filter("Ticker (e.g. AAPL)", "tk_ticker", upper=True)
    if typed:
        return typed
    try:
        busiest = data.top_keys(b, b.cache_key, "ticker", since or until - timedelta(days=3650), until, 1, 200)
    except data.NotAvailable:  # a store without aggregations: the most mentioned among recent documents
        recent = data.search(b, b.cache_key, SearchQuery(since=since, limit=SAMPLE).model_dump_json())
        mentions = Counter(t for d in recent for t in d.tickers)
        return mentions.most_common(1)[0][0] if mentions else None
    return max(busiest, key=lambda k: k.count).key if busiest else None


def _timeline(b: Backends, ticker: str, span: timedelta | None, since: datetime | None, until: datetime) -> None:
    q = TrendQuery(bucket_seconds=frames.bucket_seconds(span), dimension="all", since=since, until=until, ticker=ticker)
    try:
        df = frames.trend_frame(data.trend(b, b.cache_key, q.model_dump_json()))
    except data.NotAvailable as exc:
        st.info(f"Timelines are not available from this store: {exc}")
        return
    t = frames.totals(df)
    cols = st.columns(3)
    cols[0].metric("Documents", f"{t['count']:,}")
    cols[1].metric("Negative share", f"{t['negative_share']:.1%}")
    cols[2].metric("Sentiment index", f"{t['mean_score']:+.3f}")
    if not df.empty:
        left, right = st.columns(2)
        left.line_chart(frames.wide(df, "mean_score").rename(columns={"all": "mean signed score"}), height=220)
        right.bar_chart(df.set_index("bucket")[["count", "negative"]], height=220, stack=False)


def _stories(b: Backends, ticker: str, since: datetime | None) -> None:
    docs = data.search(b, b.cache_key, SearchQuery(ticker=ticker, since=since, limit=STORIES_LIMIT).model_dump_json())
    stories = one_per_story(docs)
    st.markdown(f"**Stories ({len(stories)})**")
    if stories:
        st.dataframe(results_frame(stories), hide_index=True)


def one_per_story(docs: list[ScoredDoc]) -> list[ScoredDoc]:
    """The newest copy of each story, newest first."""
    seen: dict[str, ScoredDoc] = {}
    for d in docs:
        seen.setdefault(d.story_id, d)
    return list(seen.values())


def _alerts(b: Backends, ticker: str) -> None:
    if b.alerts is None:
        st.caption("No alert store is configured.")
        return
    mine = [a for a in data.alerts(b, b.cache_key, None, None, 500) if a.dimension == "ticker" and a.key == ticker]
    st.markdown(f"**Alerts ({len(mine)})**")
    if mine:
        base = b.settings.url.rstrip("/")
        rows = [
            {
                "severity": a.severity,
                "state": a.state,
                "rule": a.rule,
                "stories": a.count,
                "window end": a.window_end,
                "link": f"{base}/alerts?id={a.id}",
            }
            for a in mine
        ]
        st.dataframe(
            pd.DataFrame(rows),
            hide_index=True,
            column_config={"link": st.column_config.LinkColumn(display_text="open")},
        )
