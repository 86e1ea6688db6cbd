from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from random import Random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.backtest import backtest
from alerts.detect import EVENT_FIRING, EVENT_REPEAT, EVENT_RESOLVED, Change, Detector, alert_id
from alerts.rules import Rule
from alerts.windows import window_start
from finsentry.protocols import SearchQuery
from finsentry.schemas import ScoredDoc
from tests.alerts.conftest import T0, Stores

RULE = Rule(name="neg", dimension="ticker", window_s=300, baseline_windows=6, min_stories=5, z=3.0, severity="high")


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def detector(stores: Stores, clock: Clock, published: list[Change] | None = None) -> Detector:
    return Detector(
        [RULE],
        stores.docs,
        stores.alerts,
        60.0,
        2,
        3600.0,
        12,
        clock,
        (published if published is not None else []).append,
    )


def feed(det: Detector, stores: Stores, docs: list[ScoredDoc]) -> list[Change]:
    """Store then detect one document at a time, as the worker and detector do."""
    out = []
    for d in docs:
        stores.docs.upsert([d])
        out += [c for c in (det.evaluate(t) for t in det.targets([d])) if c is not None]
    return out


@given(st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1)), st.integers(10, 86400))
def test_window_start_is_aligned_and_contains_the_time(t: datetime, window_s: int) -> None:
    t = t.replace(tzinfo=UTC)
    start = window_start(t, window_s)
    assert start.timestamp() % window_s == 0
    assert start <= t < start + timedelta(seconds=window_s)


def test_burst_fires_once_when_min_stories_is_reached_and_counts_equal_a_recount(
    stores: Stores, make_doc: Callable[..., ScoredDoc]
) -> None:
    clock = Clock(T0 + timedelta(minutes=4))
    published: list[Change] = []
    det = detector(stores, clock, published)
    burst = [make_doc(T0 + timedelta(seconds=10 * i)) for i in range(8)]
    changes = feed(det, stores, burst)
    firing = [c for c in changes if c.event == EVENT_FIRING]
    assert len(firing) == 1 and firing[0].alert.count == 5  # cold start: fires at min_stories
    (alert,) = stores.alerts.list_alerts()
    assert alert.id == alert_id("neg", "ACME", T0) and alert.state == "firing"
    assert alert.count == 8 == len({d.story_id for d in burst})
    assert set(alert.doc_ids) == {d.id for d in burst}
    assert [c.alert.id for c in published] == [c.alert.id for c in changes]


def test_syndicated_copies_count_once_and_neutral_news_never_fires(
    stores: Stores, make_doc: Callable[..., ScoredDoc]
) -> None:
    det = detector(stores, Clock(T0 + timedelta(minutes=4)))
    copies = [make_doc(T0 + timedelta(seconds=i), story_id="story-1") for i in range(10)]
    calm = [make_doc(T0 + timedelta(seconds=i), ticker="BETA", sentiment="neutral") for i in range(20)]
    assert feed(det, stores, copies + calm) == []
    assert stores.alerts.list_alerts() == []


def test_a_second_instance_and_a_replay_update_the_same_alert(
    stores: Stores, make_doc: Callable[..., ScoredDoc]
) -> None:
    clock = Clock(T0 + timedelta(minutes=9))
    a, b = detector(stores, clock), detector(stores, clock)
    first = [make_doc(T0 + timedelta(seconds=i)) for i in range(6)]
    second = [make_doc(T0 + timedelta(seconds=300 + i)) for i in range(7)]
    feed(a, stores, first)
    feed(b, stores, second)  # the next window, seen by another instance
    replay = detector(stores, clock)
    for d in first + second:
        for t in replay.targets([d]):
            replay.evaluate(t)
    alerts = stores.alerts.list_alerts()
    assert len(alerts) == 1
    assert alerts[0].first_window_start == T0 and alerts[0].window_start == T0 + timedelta(seconds=300)
    assert alerts[0].count == 7


def test_a_fresh_instance_derives_the_incident_start_from_the_store(
    stores: Stores, make_doc: Callable[..., ScoredDoc]
) -> None:
    clock = Clock(T0 + timedelta(minutes=9))
    feed(detector(stores, clock), stores, [make_doc(T0 + timedelta(seconds=i)) for i in range(6)])
    stores.alerts.put_alert(stores.alerts.list_alerts()[0].model_copy(update={"state": "resolved"}))
    # the stored alert is resolved, yet a replay of the same incident must not make a second one
    det = detector(stores, clock)
    feed(det, stores, [make_doc(T0 + timedelta(seconds=300 + i)) for i in range(7)])
    assert len(stores.alerts.list_alerts()) == 1


def test_resolves_after_quiet_windows_and_next_burst_is_a_new_incident(
    stores: Stores, make_doc: Callable[..., ScoredDoc]
) -> None:
    clock = Clock(T0 + timedelta(minutes=4))
    det = detector(stores, clock)
    feed(det, stores, [make_doc(T0 + timedelta(seconds=i)) for i in range(6)])
    clock.now = T0 + timedelta(minutes=14)  # two quiet windows have ended, lateness not yet over
    assert det.tick() == []
    clock.now = T0 + timedelta(minutes=16)
    (change,) = det.tick()
    assert change.event == EVENT_RESOLVED and change.alert.resolved_at == T0 + timedelta(minutes=15)
    later = T0 + timedelta(hours=2)
    clock.now = later + timedelta(minutes=1)
    feed(det, stores, [make_doc(later + timedelta(seconds=i)) for i in range(12)])
    ids = {a.id for a in stores.alerts.list_alerts()}
    assert ids == {alert_id("neg", "ACME", T0), alert_id("neg", "ACME", later)}


def test_one_quiet_window_does_not_resolve(stores: Stores, make_doc: Callable[..., ScoredDoc]) -> None:
    clock = Clock(T0 + timedelta(minutes=4))
    det = detector(stores, clock)
    feed(det, stores, [make_doc(T0 + timedelta(seconds=i)) for i in range(6)])
    # one quiet window, then the ticker fires again: still the same incident
    clock.now = T0 + timedelta(minutes=11)
    feed(det, stores, [make_doc(T0 + timedelta(minutes=10, seconds=i)) for i in range(6)])
    assert det.tick() == []
    assert len(stores.alerts.list_alerts()) == 1


def test_baseline_raises_the_bar_for_a_noisy_ticker(stores: Stores, make_doc: Callable[..., ScoredDoc]) -> None:
    clock = Clock(T0 + timedelta(minutes=4))
    history = [make_doc(T0 - timedelta(minutes=5 * w) + timedelta(seconds=i)) for w in range(1, 7) for i in range(4)]
    stores.docs.upsert(history)
    det = detector(stores, clock)
    assert feed(det, stores, [make_doc(T0 + timedelta(seconds=i)) for i in range(8)]) == []  # 8 vs 4/window: z=2
    changes = feed(det, stores, [make_doc(T0 + timedelta(seconds=20 + i)) for i in range(3)])
    assert [c.event for c in changes] == [EVENT_FIRING, "alert.updated"]
    assert (changes[0].alert.count, changes[0].alert.baseline, changes[0].alert.score) == (10, 4.0, 3.0)


def test_late_documents_past_the_allowed_lateness_are_not_evaluated(
    stores: Stores, make_doc: Callable[..., ScoredDoc]
) -> None:
    det = detector(stores, Clock(T0 + timedelta(hours=1)))
    feed(det, stores, [make_doc(T0 + timedelta(hours=1), ticker="BETA", sentiment="neutral")])
    assert feed(det, stores, [make_doc(T0 + timedelta(seconds=i)) for i in range(8)]) == []
    assert det.late == 8


def test_backtest_reports_what_the_live_detector_fires(stores: Stores, make_doc: Callable[..., ScoredDoc]) -> None:
    burst = [make_doc(T0 + timedelta(seconds=i)) for i in range(9)]
    calm = [make_doc(T0 + timedelta(minutes=30 + i), sentiment="positive") for i in range(10)]
    stores.docs.upsert(burst + calm)
    found = backtest([RULE], stores.docs, T0 - timedelta(hours=1), T0 + timedelta(hours=1))
    assert [(a.key, a.first_window_start, a.count, a.state) for a in found] == [("ACME", T0, 9, "resolved")]
    assert stores.alerts.list_alerts() == []  # a backtest never writes alerts


burst = st.lists(
    st.tuples(st.integers(0, 299), st.integers(0, 12), st.sampled_from(["negative", "negative", "neutral"])),
    min_size=1,
    max_size=30,
)


@settings(max_examples=25, deadline=None)
@given(burst, st.randoms(use_true_random=False))
def test_alert_count_equals_a_recount_whatever_the_order_and_duplicates(
    tmp_path_factory: pytest.TempPathFactory, rows: list[tuple[int, int, str]], rnd: Random
) -> None:
    docs = [
        ScoredDoc(
            id=f"d{i}",
            source="w",
            title="$ACME x",
            published_at=T0 + timedelta(seconds=sec),
            tickers=["ACME"],
            sentiment=sent,
            sentiment_score=0.8,
            topic="t",
            topic_score=0.9,
            model_version="v",
            story_id=f"s{story}",
        )
        for i, (sec, story, sent) in enumerate(rows)
    ]
    outcomes = []
    for _ in range(2):
        order = docs + rnd.sample(docs, k=min(3, len(docs)))  # some replayed twice
        rnd.shuffle(order)
        stores = Stores(tmp_path_factory.mktemp("prop") / "p.db")
        feed(detector(stores, Clock(T0 + timedelta(minutes=4))), stores, order)
        outcomes.append({(a.id, a.count) for a in stores.alerts.list_alerts()})
        stores.db.close()
    negative_stories = {d.story_id for d in docs if d.sentiment == "negative"}
    expected = {(alert_id("neg", "ACME", T0), len(negative_stories))} if len(negative_stories) >= 5 else set()
    assert outcomes[0] == outcomes[1] == expected


def test_a_long_incident_repeats_once_per_interval(stores: Stores, make_doc: Callable[..., ScoredDoc]) -> None:
    clock = Clock(T0 + timedelta(minutes=4))
    det = Detector([RULE], stores.docs, stores.alerts, 60.0, 2, 600.0, 12, clock)
    for w in range(4):  # four firing windows in a row keep the incident open for 20 minutes
        clock.now = T0 + timedelta(minutes=5 * w + 4)
        feed(det, stores, [make_doc(T0 + timedelta(minutes=5 * w, seconds=i)) for i in range(6 + 3 * w)])
        changes = det.tick()
        assert all(c.event == EVENT_REPEAT for c in changes)
    (alert,) = stores.alerts.list_alerts()
    assert alert.repeats == 1 and alert.first_window_start == T0  # fired at T0 + 4 min, due once at T0 + 14 min
    clock.now = T0 + timedelta(minutes=24, seconds=1)
    assert [c.alert.repeats for c in det.tick()] == [2]
    assert det.tick() == []


def test_an_alert_firing_late_in_an_old_window_does_not_repeat_at_once(
    stores: Stores, make_doc: Callable[..., ScoredDoc]
) -> None:
    clock = Clock(T0 + timedelta(minutes=14))  # the window began 14 minutes ago, past the 10-minute interval
    det = Detector([RULE], stores.docs, stores.alerts, 60.0, 2, 600.0, 12, clock)
    feed(det, stores, [make_doc(T0 + timedelta(seconds=i)) for i in range(6)])
    assert [a.repeats for a in stores.alerts.list_alerts()] == [0]
    assert det.tick() == []  # counted from the first firing, the old window's age does not count


class LaggingIndex:
    """Fault injection: a search index that does not show the newest documents yet (not refreshed)."""

    def __init__(self, stores: Stores) -> None:
        self.stores = stores
        self.hidden: set[str] = set()

    def search(self, query: SearchQuery) -> list[ScoredDoc]:
        return [d for d in self.stores.docs.search(query) if d.id not in self.hidden]


def test_a_batch_not_yet_searchable_still_counts_once(stores: Stores, make_doc: Callable[..., ScoredDoc]) -> None:
    index = LaggingIndex(stores)
    det = Detector([RULE], index, stores.alerts, clock=lambda: T0 + timedelta(minutes=4))
    first = [make_doc(T0 + timedelta(seconds=i)) for i in range(3)]
    stores.docs.upsert(first)
    batch = [make_doc(T0 + timedelta(seconds=10 + i)) for i in range(3)]
    stores.docs.upsert(batch)
    index.hidden = {d.id for d in batch}
    changes = [c for c in (det.evaluate(t) for t in det.targets([*batch, batch[0]])) if c is not None]
    assert [(c.event, c.alert.count) for c in changes] == [(EVENT_FIRING, 6)]
