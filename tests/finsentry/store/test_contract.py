"""The document-store contract: every test runs on SQLite and on an Elasticsearch API.

Aggregations are checked against a plain-Python reference over the same documents, so both
backends agree value for value (counts exact, means within 1e-9).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from finsentry.protocols import Dimension, KeyStat, ManagedStore, SearchQuery, TrendBucket, TrendQuery, cursor_of
from finsentry.schemas import ScoredDoc
from finsentry.store.text import STOP_WORDS, query_words
from tests.finsentry.store.conftest import T0

TOPICS = ["Earnings", "Energy | Oil", "M&A"]
SENTIMENTS = ["negative", "neutral", "positive"]
TICKERS = [["ACME"], ["ACME", "OILX"], [], ["BNKR"]]


def corpus(make_doc: Callable[..., ScoredDoc], n: int = 60) -> list[ScoredDoc]:
    """Mixed documents over ~3 hours: several tickers, shared stories, equal timestamps."""
    return [
        make_doc(
            i,
            title=f"Report {i} on markets",
            sentiment=SENTIMENTS[i % 3],
            topic=TOPICS[i % len(TOPICS)],
            minutes=(i // 2) * 6,  # pairs share a timestamp: the id breaks the tie
            source=f"src{i % 2}",
            tickers=TICKERS[i % len(TICKERS)],
            story=f"story{i // 3}",
            version="v1" if i < 40 else "v2",
        )
        for i in range(n)
    ]


def keys_of(doc: ScoredDoc, dimension: Dimension) -> list[str]:
    if dimension == "ticker":
        return list(doc.tickers)
    return {"all": ["all"], "topic": [doc.topic], "source": [doc.source], "sentiment": [doc.sentiment]}[dimension]


def reference_trend(docs: Sequence[ScoredDoc], q: TrendQuery) -> list[tuple[datetime, str, int, int, int, float]]:
    groups: dict[tuple[datetime, str], list[ScoredDoc]] = defaultdict(list)
    for d in docs:
        t = d.event_time
        if (q.since and t < q.since) or (q.until and t >= q.until) or (q.topic and d.topic != q.topic):
            continue
        if q.ticker and q.ticker not in d.tickers:
            continue
        start = datetime.fromtimestamp(int(t.timestamp()) // q.bucket_seconds * q.bucket_seconds, UTC)
        for key in keys_of(d, q.dimension):
            groups[(start, key)].append(d)
    return [
        (b, k, len(g), len({d.story_id for d in g}), sum(d.sentiment == "negative" for d in g),
         math.fsum(d.signed_score for d in g) / len(g))
        for (b, k), g in sorted(groups.items())
    ]  # fmt: skip


def as_tuples(rows: Sequence[TrendBucket]) -> list[tuple[datetime, str, int, int, int, float]]:
    return [(r.bucket, r.key, r.count, r.stories, r.negative, r.mean_score) for r in rows]


Row = tuple[datetime, str, int, int, int, float]


def assert_same(got: list[Row], want: list[Row]) -> None:
    assert [g[:-1] for g in got] == [w[:-1] for w in want]
    for g, w in zip(got, want, strict=True):
        assert abs(g[-1] - w[-1]) < 1e-9


def test_upsert_is_idempotent_and_last_write_wins(store: ManagedStore, make_doc: Callable[..., ScoredDoc]) -> None:
    assert store.upsert([make_doc(1), make_doc(2)]) == []
    assert store.upsert([make_doc(1, version="v2"), make_doc(2)]) == []
    assert store.total() == 2
    got = store.get(make_doc(1).id)
    assert got is not None and got.model_version == "v2"
    assert got == make_doc(1, version="v2").model_copy(update={"scored_at": got.scored_at})
    assert store.get("missing") is None


def test_search_filters(store: ManagedStore, make_doc: Callable[..., ScoredDoc]) -> None:
    store.upsert(
        [
            make_doc(1, "Acme beats estimates", "positive", "Earnings", 0),
            make_doc(2, "Oil slumps on demand fears", "negative", "Energy | Oil", 10, source="other", tickers=[]),
            make_doc(3, "Acme recalls product", "negative", "Company | Product News", 20, version="v9"),
        ]
    )
    assert next(d.title for d in store.search(SearchQuery())) == "Acme recalls product"  # newest first
    assert {d.title for d in store.search(SearchQuery(sentiment="negative"))} == {
        "Oil slumps on demand fears",
        "Acme recalls product",
    }
    assert [d.title for d in store.search(SearchQuery(text="oil demand"))] == ["Oil slumps on demand fears"]
    assert len(store.search(SearchQuery(ticker="$acme"))) == 2
    assert [d.topic for d in store.search(SearchQuery(topic="Earnings"))] == ["Earnings"]
    assert len(store.search(SearchQuery(source="other"))) == 1
    assert [d.model_version for d in store.search(SearchQuery(model_version="v9"))] == ["v9"]
    assert len(store.search(SearchQuery(since=T0 + timedelta(minutes=5)))) == 2
    assert len(store.search(SearchQuery(until=T0 + timedelta(minutes=5)))) == 1
    assert len(store.search(SearchQuery(limit=1))) == 1


def test_documents_of_a_story(store: ManagedStore, make_doc: Callable[..., ScoredDoc]) -> None:
    docs = corpus(make_doc, 12)
    store.upsert(docs)
    want = sorted((d for d in docs if d.story_id == "story2"), key=lambda d: (d.event_time, d.id), reverse=True)
    assert [d.id for d in store.search(SearchQuery(story_id="story2"))] == [d.id for d in want]


def test_cursor_pagination_walks_everything_once(store: ManagedStore, make_doc: Callable[..., ScoredDoc]) -> None:
    docs = corpus(make_doc, 45)
    store.upsert(docs)
    want = [d.id for d in sorted(docs, key=lambda d: (d.event_time, d.id), reverse=True)]
    got: list[str] = []
    after: str | None = None
    while True:
        page = store.search(SearchQuery(limit=7, after=after))
        if not page:
            break
        got += [d.id for d in page]
        after = cursor_of(page[-1])
    assert got == want


def test_event_time_falls_back_to_fetch_time(store: ManagedStore, make_doc: Callable[..., ScoredDoc]) -> None:
    early = make_doc(1, minutes=0, published=False)
    late = make_doc(2, minutes=30)
    store.upsert([late, early])
    assert [d.id for d in store.search(SearchQuery())] == [late.id, early.id]
    assert [d.id for d in store.search(SearchQuery(until=T0 + timedelta(minutes=1)))] == [early.id]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("falls", {"falling", "fell-free"}),  # porter: falls, falling -> fall
        ("FALLING stocks", {"falling"}),
        ("the markets", {"falling", "fell-free", "rallied"}),  # stop word dropped, markets -> market
        ("rallies", {"rallied"}),  # rallies, rallied -> ralli
        ("Acme's", {"rallied"}),  # possessive
        ("oil", set()),
    ],
)
def test_full_text_uses_english_stemming(
    store: ManagedStore, make_doc: Callable[..., ScoredDoc], query: str, expected: set[str]
) -> None:
    store.upsert(
        [
            make_doc(1, "Stocks falling across markets", body="", source="falling"),
            make_doc(2, "Market report", body="Bank shares falls sharply", source="fell-free"),
            make_doc(3, "Acme rallied as market cheered", source="rallied"),
        ]
    )
    assert {d.source for d in store.search(SearchQuery(text=query))} == expected


@pytest.mark.parametrize(
    "text",
    [
        'title:acme AND (oil OR "gas") NOT x~2 y^3 [a TO z] {b TO c} /re.*gex/ \\ ! && || * ?',
        'NEAR(acme oil) acme* "unbalanced ^ - : ( )',
        "\x00\x01 \u200b ; DROP TABLE docs; --",
    ],
)
def test_query_syntax_is_taken_as_words(store: ManagedStore, make_doc: Callable[..., ScoredDoc], text: str) -> None:
    store.upsert([make_doc(1, "Acme title oil gas"), make_doc(2, "Unrelated headline")])
    store.search(SearchQuery(text=text))  # never raises, never parsed as a query language
    assert store.total() == 2
    assert [d.title for d in store.search(SearchQuery(text="title:acme (oil)"))] == ["Acme title oil gas"]
    assert store.search(SearchQuery(text="acme*")) == store.search(SearchQuery(text="acme"))


@pytest.mark.parametrize("dimension", ["all", "topic", "ticker", "source", "sentiment"])
@pytest.mark.parametrize("bucket_seconds", [900, 3600])
def test_trend_matches_reference(
    store: ManagedStore, make_doc: Callable[..., ScoredDoc], dimension: Dimension, bucket_seconds: int
) -> None:
    docs = corpus(make_doc)
    store.upsert(docs)
    q = TrendQuery(bucket_seconds=bucket_seconds, dimension=dimension)
    assert_same(as_tuples(store.trend(q)), reference_trend(docs, q))


def test_trend_filters_and_window(store: ManagedStore, make_doc: Callable[..., ScoredDoc]) -> None:
    docs = corpus(make_doc)
    store.upsert(docs)
    since, until = T0 + timedelta(minutes=20), T0 + timedelta(minutes=130)
    for q in [
        TrendQuery(bucket_seconds=1800, dimension="sentiment", since=since, until=until),
        TrendQuery(bucket_seconds=600, dimension="topic", ticker="ACME"),
        TrendQuery(bucket_seconds=3600, dimension="ticker", topic="Earnings", since=since),
    ]:
        want = reference_trend(docs, q)
        assert want, "the reference must not be empty, or the test proves nothing"
        assert_same(as_tuples(store.trend(q)), want)


def test_trend_counts_a_document_once_per_ticker(store: ManagedStore, make_doc: Callable[..., ScoredDoc]) -> None:
    store.upsert([make_doc(1, tickers=["ACME", "OILX"]), make_doc(2, tickers=["ACME"], minutes=1)])
    rows = store.trend(TrendQuery(bucket_seconds=3600, dimension="ticker"))
    assert {(r.key, r.count) for r in rows} == {("ACME", 2), ("OILX", 1)}


def test_top_keys_by_negative_share(store: ManagedStore, make_doc: Callable[..., ScoredDoc]) -> None:
    docs = corpus(make_doc)
    store.upsert(docs)
    got = store.top_keys("ticker", since=T0, until=None, min_count=10, limit=5)
    per: dict[str, list[ScoredDoc]] = defaultdict(list)
    for d in docs:
        for t in d.tickers:
            per[t].append(d)
    want = sorted(
        (
            KeyStat(
                key=k,
                count=len(g),
                negative=sum(d.sentiment == "negative" for d in g),
                negative_share=sum(d.sentiment == "negative" for d in g) / len(g),
                mean_score=math.fsum(d.signed_score for d in g) / len(g),
            )
            for k, g in per.items()
            if len(g) >= 10
        ),
        key=lambda s: (-s.negative_share, -s.count, s.key),
    )
    assert [(s.key, s.count, s.negative) for s in got] == [(s.key, s.count, s.negative) for s in want]
    assert all(abs(a.mean_score - b.mean_score) < 1e-9 for a, b in zip(got, want, strict=True))
    assert len(want) >= 2
    (everything,) = store.top_keys("all", since=T0, until=None, min_count=1, limit=5)
    assert (everything.key, everything.count) == ("all", len(docs))
    assert everything.negative == sum(d.sentiment == "negative" for d in docs)
    assert store.top_keys("topic", since=T0 + timedelta(days=1), until=None, min_count=1, limit=5) == []


def test_counts_per_bucket_topic_sentiment(store: ManagedStore, make_doc: Callable[..., ScoredDoc]) -> None:
    store.upsert(
        [make_doc(i, sentiment="negative", minutes=i) for i in range(5)]
        + [make_doc(10 + i, sentiment="positive", minutes=70 + i) for i in range(3)]
    )
    rows = store.counts(bucket_seconds=3600)
    assert [(r.bucket.hour, r.sentiment, r.count) for r in rows] == [(12, "negative", 5), (13, "positive", 3)]
    assert sum(r.count for r in store.counts(3600, since=T0 + timedelta(minutes=60))) == 3


def test_prune_drops_whole_old_months(store: ManagedStore, make_doc: Callable[..., ScoredDoc]) -> None:
    old = make_doc(1, minutes=-60 * 24 * 62)  # September
    mid = make_doc(2, minutes=-60 * 24 * 25)  # October
    new = make_doc(3)  # November
    store.upsert([old, mid, new])
    now = datetime(2026, 11, 28, tzinfo=UTC)
    assert store.prune(0, now) == 0
    assert store.prune(2, now) == 1
    assert store.total() == 2 and store.get(old.id) is None and store.get(mid.id) is not None


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=60))
def test_any_user_text_is_words_on_both_backends(store: ManagedStore, text: str) -> None:
    store.search(SearchQuery(text=text))  # never an error, whatever the characters


@given(st.text(max_size=80))
def test_query_words_are_plain_lowercase_words(text: str) -> None:
    words = query_words(text)
    assert all(w and w == w.lower() and all(ch.isalnum() for ch in w) for w in words)
    assert not set(words) & STOP_WORDS


def test_a_malformed_cursor_is_refused_before_any_store_sees_it() -> None:
    for bad in ["", "abc", "12", ":x", "1.5:x"]:
        with pytest.raises(ValidationError):
            SearchQuery(after=bad)
