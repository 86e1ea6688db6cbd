"""Overview: where sentiment is moving, per topic and overall, refreshed live."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import data, frames, widgets
from dashboard.backends import Backends, PageContext
from finsentry.protocols import Dimension, TrendQuery

MIN_MOVER_DOCS = 2  # a key with fewer documents on either side has no meaningful move
TOPIC_LINES = 6  # the busiest topics get their own line; more would not be readable


def render(ctx: PageContext) -> None:
    """Filters (kept across refreshes: they live outside the live fragment) and the live part."""
    b = ctx.backends
    st.title("Overview")
    cols = st.columns(4)
    with cols[0]:
        span = widgets.range_select("ov_range", default="Last 6 hours")
    with cols[1]:
        topic = widgets.choice("Topic", b.topics, "ov_topic")
    with cols[2]:
        ticker = widgets.text_filter("Ticker", "ov_ticker", upper=True)
    with cols[3]:
        source = widgets.text_filter("Source", "ov_source")
    live = st.fragment(run_every=b.settings.refresh_s)(_live)
    live(b, span, topic, ticker, source)


def _live(b: Backends, span: timedelta | None, topic: str | None, ticker: str | None, source: str | None) -> None:
    since, until = data.time_range(b, span)
    width = frames.bucket_seconds(span)

    def query(dimension: Dimension) -> str:
        q = TrendQuery(
            bucket_seconds=width,
            dimension=dimension,
            since=since,
            until=until,
            topic=topic,
            ticker=ticker,
            source=source,
        )
        return q.model_dump_json()

    try:
        by_topic = frames.trend_frame(data.trend(b, b.cache_key, query("topic")))
    except data.NotAvailable as exc:
        st.info(f"Sentiment trends are not available from this store: {exc}")
        return
    overall = frames.overall(by_topic)
    with st.container(key="overview-content"):
        _headline(overall)
        if overall.empty:
            st.info("No documents in this range yet.")
            return
        _index_charts(overall, by_topic)
        _heatmap(by_topic)
        _movers(b, by_topic, since, until, width)
        st.caption(
            f"Buckets of {width // 60} min, up to {until:%Y-%m-%d %H:%M:%S} UTC;"
            f" refreshes every {b.settings.refresh_s:g}s."
        )


def _headline(overall: pd.DataFrame) -> None:
    t = frames.totals(overall)
    cols = st.columns(4)
    cols[0].metric("Documents", f"{t['count']:,}")
    cols[1].metric("Stories", f"{t['stories']:,}")
    cols[2].metric("Negative share", f"{t['negative_share']:.1%}")
    cols[3].metric("Sentiment index", f"{t['mean_score']:+.3f}", help="Mean of p(positive) - p(negative)")


def _index_charts(overall: pd.DataFrame, by_topic: pd.DataFrame) -> None:
    busiest = by_topic[by_topic["key"].isin(frames.busiest(by_topic, TOPIC_LINES))]
    st.subheader("Sentiment index (mean signed score)")
    st.altair_chart(_lines(pd.concat([overall.assign(key="overall"), busiest]), "mean_score", "key"), width="stretch")
    left, right = st.columns(2)
    with left:
        st.subheader("Negative share")
        st.altair_chart(_lines(overall, "negative_share", None, percent=True), width="stretch")
    with right:
        st.subheader("Volume")
        st.bar_chart(frames.wide(overall, "count").rename(columns={"all": "documents"}), height=200)


def _lines(df: pd.DataFrame, value: str, series: str | None, percent: bool = False) -> alt.Chart:
    """Lines with points, so that a range holding a single bucket (a fresh start) still shows."""
    chart = alt.Chart(df).mark_line(point=True)
    y = alt.Y(f"{value}:Q", title=None, axis=alt.Axis(format="%" if percent else "+.2f"))
    enc: dict[str, object] = {"x": alt.X("bucket:T", title=None), "y": y}
    if series:
        enc["color"] = alt.Color(f"{series}:N", title=None, legend=alt.Legend(orient="bottom"))
    return chart.encode(**enc).properties(height=220 if series else 180)


def _heatmap(by_topic: pd.DataFrame) -> None:
    st.subheader("Negative share by topic and time")
    chart = (
        alt.Chart(by_topic)
        .mark_rect()
        .encode(
            x=alt.X("bucket:T", title=None),
            y=alt.Y("key:N", title=None),
            color=alt.Color("negative_share:Q", scale=alt.Scale(scheme="reds", domain=[0, 1]), title="negative"),
            tooltip=["key:N", "bucket:T", "count:Q", alt.Tooltip("negative_share:Q", format=".0%")],
        )
    )
    st.altair_chart(chart, width="stretch")


def _movers(b: Backends, by_topic: pd.DataFrame, since: datetime | None, until: datetime, width: int) -> None:
    """Last quarter of the range against the three quarters before it, per key.

    Topics come from the trend already read (the cut falls on a bucket boundary); tickers from the store.
    """
    start = since or until - timedelta(days=30)
    cut_s = (until - (until - start) / 4).timestamp()
    cut = datetime.fromtimestamp(cut_s - cut_s % width, UTC)
    st.subheader("Top movers against their own baseline")
    cols = st.columns(2)
    pairs = {
        "ticker": (
            data.top_keys(b, b.cache_key, "ticker", cut, until, MIN_MOVER_DOCS, 500),
            data.top_keys(b, b.cache_key, "ticker", start, cut, MIN_MOVER_DOCS, 500),
        ),
        "topic": (
            frames.key_stats(by_topic, cut, until, MIN_MOVER_DOCS),
            frames.key_stats(by_topic, start, cut, MIN_MOVER_DOCS),
        ),
    }
    for col, (dimension, (recent, base)) in zip(cols, pairs.items(), strict=True):
        with col:
            st.markdown(f"**{dimension.capitalize()}s**")
            table = frames.movers(recent, base)
            if table.empty:
                st.caption("Not enough documents on both sides of the baseline yet.")
            else:
                st.dataframe(table, hide_index=True, column_config=_mover_columns())


def _mover_columns() -> dict[str, Any]:
    pct = st.column_config.NumberColumn(format="percent")
    score = st.column_config.NumberColumn(format="%+.3f")
    return {
        "mean score": score,
        "baseline score": score,
        "change": score,
        "negative share": pct,
        "baseline negative share": pct,
    }
