"""Chart and table frames: the overall series and per-key stats agree with the store's own aggregations."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from dashboard import frames
from dashboard.backends import Backends
from finsentry.protocols import KeyStat, TrendBucket, TrendQuery
from tests.dashboard.conftest import NOW, lively_docs, seed_docs


def _trends(b: Backends, width: int) -> tuple[list[TrendBucket], list[TrendBucket]]:
    try:
        q = TrendQuery(bucket_seconds=width, since=NOW - timedelta(hours=6), until=NOW + timedelta(minutes=1))
        return b.docs.trend(q), b.docs.trend(q.model_copy(update={"dimension": "topic"}))
    except NotImplementedError:
        pytest.skip("this store does not aggregate yet")


def test_overall_from_topics_equals_the_stores_all(make_backends: Callable[..., Backends]) -> None:
    b = make_backends([*seed_docs(), *lively_docs()])
    everything, by_topic = _trends(b, 900)
    derived = frames.overall(frames.trend_frame(by_topic)).set_index("bucket")
    direct = frames.trend_frame(everything).set_index("bucket")
    assert list(derived.index) == list(direct.index)
    assert list(derived["count"]) == list(direct["count"])
    assert list(derived["negative"]) == list(direct["negative"])
    assert list(derived["stories"]) == list(direct["stories"])
    assert derived["mean_score"].round(9).tolist() == direct["mean_score"].round(9).tolist()


def test_key_stats_equal_top_keys(make_backends: Callable[..., Backends]) -> None:
    b = make_backends([*seed_docs(), *lively_docs()])
    _, by_topic = _trends(b, 900)
    since, until = NOW - timedelta(hours=3), NOW - timedelta(minutes=30)  # both on 15-minute boundaries
    mine = {k.key: k for k in frames.key_stats(frames.trend_frame(by_topic), since, until, 2)}
    theirs = {k.key: k for k in b.docs.top_keys("topic", since, until, 2, 500)}
    assert mine.keys() == theirs.keys()
    for key, stat in theirs.items():
        assert (mine[key].count, mine[key].negative) == (stat.count, stat.negative)
        assert mine[key].mean_score == pytest.approx(stat.mean_score)


def test_movers_rank_by_change_and_need_a_baseline() -> None:
    recent = [
        KeyStat(key=k, count=10, negative=n, negative_share=n / 10, mean_score=s)
        for k, n, s in (("A", 8, -0.6), ("B", 1, 0.1), ("C", 5, 0.0))
    ]
    base = [
        KeyStat(key=k, count=40, negative=n, negative_share=n / 40, mean_score=s)
        for k, n, s in (("A", 8, 0.1), ("B", 4, 0.0))
    ]
    table = frames.movers(recent, base)
    assert list(table["key"]) == ["A", "B"]
    assert table.iloc[0]["change"] == pytest.approx(-0.7)
    assert frames.movers([], base).empty


@pytest.mark.parametrize(("hours", "width"), [(1, 60), (6, 900), (24, 1800), (24 * 7, 3 * 3600), (24 * 30, 86400)])
def test_bucket_width(hours: int, width: int) -> None:
    assert frames.bucket_seconds(timedelta(hours=hours)) == width
    assert frames.bucket_seconds(timedelta(hours=hours)) * 60 >= hours * 3600
