"""Store records → pandas frames for charts and tables (pure functions, no Streamlit)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import pandas as pd

from finsentry.protocols import KeyStat, TrendBucket

_NICE_BUCKETS_S = (60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 86400, 7 * 86400)


def bucket_seconds(span: timedelta | None, target_buckets: int = 60) -> int:
    """A round bucket width giving at most about ``target_buckets`` buckets over ``span``."""
    if span is None:
        return 86400
    for width in _NICE_BUCKETS_S:
        if span.total_seconds() / width <= target_buckets:
            return width
    return _NICE_BUCKETS_S[-1]


def trend_frame(buckets: Sequence[TrendBucket]) -> pd.DataFrame:
    """One row per bucket x key with ``negative_share`` added."""
    df = pd.DataFrame(
        [b.model_dump() for b in buckets], columns=["bucket", "key", "count", "stories", "negative", "mean_score"]
    )
    df["negative_share"] = (df["negative"] / df["count"].where(df["count"] > 0)).fillna(0.0)
    return df


def totals(df: pd.DataFrame) -> dict[str, float]:
    """Documents, stories, negatives, negative share and count-weighted mean score over every row."""
    n = int(df["count"].sum())
    neg = int(df["negative"].sum())
    mean = float((df["mean_score"] * df["count"]).sum() / n) if n else 0.0
    return {
        "count": n,
        "stories": int(df["stories"].sum()),
        "negative": neg,
        "negative_share": neg / n if n else 0.0,
        "mean_score": mean,
    }


def wide(df: pd.DataFrame, value: str, keys: Sequence[str] | None = None) -> pd.DataFrame:
    """Buckets as the index, one column per key (optionally only ``keys``)."""
    if df.empty:
        return pd.DataFrame()
    out = df.pivot_table(index="bucket", columns="key", values=value, aggfunc="sum")
    if keys is not None:
        out = out[[k for k in keys if k in out.columns]]
    return out.sort_index()


def busiest(df: pd.DataFrame, n: int) -> list[str]:
    """The ``n`` keys with the most documents."""
    if df.empty:
        return []
    return [str(k) for k in df.groupby("key")["count"].sum().sort_values(ascending=False).index[:n]]


def movers(recent: Sequence[KeyStat], baseline: Sequence[KeyStat], limit: int = 10) -> pd.DataFrame:
    """Keys whose mean signed score moved most against their own baseline (largest |change| first).

    A key without a baseline is left out: there is nothing to have moved from.
    """
    base = {k.key: k for k in baseline}
    rows = [
        {
            "key": r.key,
            "documents": r.count,
            "mean score": r.mean_score,
            "baseline score": base[r.key].mean_score,
            "change": r.mean_score - base[r.key].mean_score,
            "negative share": r.negative_share,
            "baseline negative share": base[r.key].negative_share,
        }
        for r in recent
        if r.key in base
    ]
    df = pd.DataFrame(
        rows,
        columns=[
            "key",
            "documents",
            "mean score",
            "baseline score",
            "change",
            "negative share",
            "baseline negative share",
        ],
    )
    if df.empty:
        return df
    order = df["change"].abs().sort_values(ascending=False).index
    return df.loc[order].head(limit).reset_index(drop=True)


def overall(by_key: pd.DataFrame) -> pd.DataFrame:
    """The ``all`` series from a per-key trend whose keys partition the documents (e.g. topics).

    Saves the store a second aggregation. Stories add up across keys because a story's copies
    carry the same text, hence the same topic.
    """
    if by_key.empty:
        return trend_frame([])
    weighted = by_key.assign(score_sum=by_key["mean_score"] * by_key["count"])
    g = weighted.groupby("bucket", as_index=False)[["count", "stories", "negative", "score_sum"]].sum()
    g["key"] = "all"
    g["mean_score"] = g["score_sum"] / g["count"]
    g["negative_share"] = g["negative"] / g["count"]
    return g[["bucket", "key", "count", "stories", "negative", "mean_score", "negative_share"]]


def key_stats(df: pd.DataFrame, since: datetime, until: datetime, min_count: int) -> list[KeyStat]:
    """Per-key totals of the buckets starting in [since, until), as ``DocumentStore.top_keys`` gives them."""
    if df.empty:
        return []
    part = df[(df["bucket"] >= since) & (df["bucket"] < until)]
    part = part.assign(score_sum=part["mean_score"] * part["count"])
    g = part.groupby("key")[["count", "negative", "score_sum"]].sum()
    return [
        KeyStat(
            key=str(key),
            count=int(row["count"]),
            negative=int(row["negative"]),
            negative_share=row["negative"] / row["count"],
            mean_score=row["score_sum"] / row["count"],
        )
        for key, row in g.iterrows()
        if row["count"] >= min_count
    ]
