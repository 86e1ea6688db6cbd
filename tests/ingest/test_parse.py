from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.config import FeedSpec, JsonFields
from ingest.parse import FeedError, Parsed, parse_feed, parse_json, parse_jsonl

FIX = Path(__file__).parent / "fixtures"
FETCHED = datetime(2026, 11, 21, tzinfo=UTC)


def _parse(name: str, content_type: str | None = None) -> Parsed:
    return parse_feed((FIX / name).read_bytes(), content_type, "wire", FETCHED)


def test_rss20_items_clean_and_utc() -> None:
    parsed = _parse("rss20.xml", "application/rss+xml")
    assert parsed.problem is None
    by_title = {i.title: i for i in parsed.items}
    apple = by_title["UPDATE 1-Apple beats quarterly revenue estimates on strong iPhone demand"]
    assert apple.published_at == datetime(2026, 11, 20, 20, 30, tzinfo=UTC)
    assert apple.url == "http://wire-a.example/apple-beats"  # tracking parameter dropped
    assert apple.body == "Apple Inc reported revenue above estimates."
    assert apple.tickers == ["AAPL"] and apple.ticker_relevance == {"AAPL": "headline"}
    assert apple.lang == "en" and not apple.time_estimated
    for item in parsed.items:
        assert "<" not in item.title + item.body and "alert" not in item.title + item.body
        assert item.published_at is not None and item.published_at.utcoffset() == timedelta(0)


def test_items_without_link_or_date_and_future_dates_are_kept_and_flagged() -> None:
    items = {i.title: i for i in _parse("rss20.xml").items}
    no_link = items["Central bank holds rates steady, signals patience"]
    assert no_link.url is None and no_link.guid == "wire-a-3"
    assert no_link.time_estimated and no_link.published_at == FETCHED
    future = items["Future dated item"]
    assert future.time_estimated and future.published_at == FETCHED


def test_atom_and_latin1_rdf() -> None:
    atom = {i.title: i for i in _parse("atom.xml").items}
    assert atom["Tesla shares fall 4% after delivery miss"].published_at == datetime(2026, 11, 20, 20, tzinfo=UTC)
    assert atom["Tesla shares fall 4% after delivery miss"].body == "Tesla missed delivery estimates."
    rdf = {i.title: i for i in _parse("rdf_latin1.xml", "application/rdf+xml").items}
    socgen = rdf["Société Générale raises dividend after record quarter"]
    assert "Société Générale" in socgen.body and socgen.lang == "fr"
    assert socgen.published_at == datetime(2026, 11, 20, 8, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("wrong_charset.xml", "Nestlé and L'Oréal shares rise in Zürich"),
        ("no_charset.xml", "“Crédit Agricole” beats forecasts"),
    ],
)
def test_wrong_or_missing_charset_still_decodes(name: str, expected: str) -> None:
    assert [i.title for i in _parse(name, "text/xml").items] == [expected]


def test_broken_feeds_fail_with_a_reason() -> None:
    with pytest.raises(FeedError, match="HTML page"):
        _parse("page.html", "text/html")
    with pytest.raises(FeedError, match="malformed"):
        _parse("garbage.xml")
    malformed = _parse("malformed.xml")
    assert malformed.problem is not None and "malformed XML" in malformed.problem


@pytest.mark.parametrize("link", ["http://bad.example.com:00Z/x", "https://bad.example.com:99999/", "http://[::1/x"])
def test_an_unparseable_link_loses_that_link_not_the_feed(link: str) -> None:
    feed = f"""<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>w</title>
<item><title>Acme beats estimates</title><link>{link}</link></item>
<item><title>Globex misses estimates</title><link>https://news.example.com/globex</link></item>
</channel></rss>""".encode()
    items = parse_feed(feed, "application/rss+xml", "wire", FETCHED).items
    assert [i.title for i in items] == ["Acme beats estimates", "Globex misses estimates"]
    assert items[0].url is None and items[0].guid and items[1].url == "https://news.example.com/globex"


def test_empty_feed_is_fine() -> None:
    parsed = _parse("empty.xml")
    assert parsed.items == [] and parsed.problem is None


def test_json_api_and_jsonl() -> None:
    spec = FeedSpec(
        name="api",
        url="http://api.example/news",
        kind="json",
        items_path="data.articles",
        fields=JsonFields(title="headline", url="link", body="summary", published="ts", guid="id"),
    )
    doc = {"data": {"articles": [
        {"headline": "Nvidia shares jump 5%", "link": "http://api.example/1", "summary": "<b>AI</b>",
         "ts": 1_795_000_000, "id": 1},
        {"headline": "", "summary": ""},
        "not an object",
    ]}}  # fmt: skip
    parsed = parse_json(json.dumps(doc).encode(), spec, FETCHED)
    assert [i.title for i in parsed.items] == ["Nvidia shares jump 5%"]
    assert parsed.items[0].body == "AI" and parsed.items[0].tickers == ["NVDA"]
    assert parsed.problem == "1 items are not JSON objects"
    with pytest.raises(FeedError, match="no list"):
        parse_json(b'{"data": {}}', spec, FETCHED)
    lines = b'{"title": "Walmart raises outlook", "url": "http://x.example/w"}\nnot json\n\n'
    jl = parse_jsonl(lines, FeedSpec(name="file", url="http://x.example/f.jsonl", kind="jsonl"), FETCHED)
    assert [i.title for i in jl.items] == ["Walmart raises outlook"] and jl.problem == "1 lines are not JSON objects"


def test_a_feed_listing_one_item_twice_yields_it_once() -> None:
    content = (
        (FIX / "rss20.xml")
        .read_bytes()
        .replace(
            b"</channel>",
            b"""<item><title>Ford recalls 300,000 trucks over
    brake defect</title><link>http://wire-a.example/ford-recall</link></item></channel>""",
        )
    )
    titles = [i.title for i in parse_feed(content, None, "wire", FETCHED).items]
    assert titles.count("Ford recalls 300,000 trucks over brake defect") == 1


_XMLISH = st.lists(
    st.sampled_from(["<rss>", "<channel>", "<item>", "<title>", "</title>", "<entry>", "<feed>", "&amp;", "&#x0;",
                     "<![CDATA[", "]]>", "<link>", "http://x.example/", "<?xml version='1.0' encoding='latin-1'?>",
                     "</item>", "</rss>", "é", "\x00", "<pubDate>", "Fri, 20 Nov 2026", "<script>"]),
    max_size=30,
).map("".join)  # fmt: skip


@given(st.one_of(st.binary(max_size=500), _XMLISH.map(lambda s: s.encode("utf-8", "surrogatepass"))))
@settings(max_examples=300, deadline=None)
def test_feed_parser_fails_only_with_feed_error(content: bytes) -> None:
    try:
        parsed = parse_feed(content, None, "fuzz", FETCHED)
    except FeedError:
        return
    for item in parsed.items:
        assert item.title or item.body
        assert item.published_at is not None and item.published_at.tzinfo is not None
