"""The fast feed reader gives exactly feedparser's entries, or declines and leaves the document to it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import feedparser
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.ingest import build_feeds
from ingest.parse import _feed_entry, parse_feed, parse_with_feedparser
from ingest.xmlfeed import RawEntry, fast_entries

FIX = Path(__file__).parent / "fixtures"
FETCHED = datetime(2026, 11, 21, tzinfo=UTC)
TYPES = [None, "application/rss+xml", "application/rss+xml; charset=UTF-8", "text/xml", "text/xml; charset=utf-8",
         "application/atom+xml", "application/xml; charset=utf8"]  # fmt: skip


def _by_feedparser(content: bytes, content_type: str | None) -> list[RawEntry]:
    headers = {"content-type": content_type} if content_type else {}
    doc = feedparser.parse(content, response_headers=headers, sanitize_html=False, resolve_relative_uris=False)
    return [_feed_entry(e) for e in doc.entries]


def _agrees(content: bytes, content_type: str | None) -> bool:
    """True when the fast reader took the document (and then it must agree entry for entry)."""
    fast = fast_entries(content, content_type)
    if fast is not None:
        assert fast == _by_feedparser(content, content_type)
    return fast is not None


@pytest.mark.parametrize("content_type", TYPES)
@pytest.mark.parametrize("name", sorted(p.name for p in FIX.glob("*.xml")))
def test_fixtures_read_fast_agree_with_feedparser(name: str, content_type: str | None) -> None:
    _agrees((FIX / name).read_bytes(), content_type)


def _plain_atom() -> bytes:
    """The Atom fixture without its XHTML content (which feedparser reads)."""
    xhtml = b'<div xmlns="http://www.w3.org/1999/xhtml">Tesla <em>missed</em> delivery estimates.</div>'
    html = b"Tesla &lt;em&gt;missed&lt;/em&gt; delivery estimates."
    return (FIX / "atom.xml").read_bytes().replace(xhtml, html).replace(b'type="xhtml"', b'type="html"')


def test_plain_feeds_take_the_fast_path_and_broken_or_foreign_ones_do_not() -> None:
    assert fast_entries((FIX / "rss20.xml").read_bytes(), "application/rss+xml") is not None
    assert fast_entries(_plain_atom(), None) is not None
    for name in ("atom.xml", "rdf_latin1.xml", "malformed.xml", "garbage.xml", "wrong_charset.xml", "page.html"):
        assert fast_entries((FIX / name).read_bytes(), "application/rss+xml") is None, name


def test_whole_parse_is_the_same_either_way() -> None:
    for content in [*build_feeds(600)[:2], (FIX / "rss20.xml").read_bytes(), _plain_atom()]:
        assert fast_entries(content, "application/rss+xml") is not None
        fast = parse_feed(content, "application/rss+xml", "wire", FETCHED)
        slow = parse_with_feedparser(content, "application/rss+xml", "wire", FETCHED)
        assert fast == slow and fast.items


@pytest.mark.parametrize(
    "doc",
    [
        '<!DOCTYPE rss [<!ENTITY e "x">]><rss><channel><item><title>&e;</title></item></channel></rss>',
        '<?xml version="1.0" encoding="iso-8859-1"?><rss><channel><item><title>a</title></item></channel></rss>',
        "<rss><channel><item><title>a</title><title>b</title></item></channel></rss>",
        "<rss><channel><item><title>a <b>bold</b></title></item></channel></rss>",
        '<rss><channel><item xml:base="http://x/"><link>a</link></item></channel></rss>',
        '<rss><channel><item><media:title xmlns:media="http://search.yahoo.com/mrss/">t</media:title>'
        "</item></channel></rss>",
        '<feed xmlns="http://www.w3.org/2005/Atom"><entry><content type="xhtml"><div>x</div></content></entry></feed>',
        '<feed xmlns="http://www.w3.org/2005/Atom"><entry><content src="http://x/a"/></entry></feed>',
        "<html><body>not a feed</body></html>",
    ],
)
def test_anything_unusual_is_left_to_feedparser(doc: str) -> None:
    assert fast_entries(doc.encode(), None) is None


_TEXT = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs"], exclude_characters="\x00\ufffe\uffff").filter(
        lambda c: c in "\t\n\r" or ord(c) >= 0x20
    ),
    max_size=40,
) | st.sampled_from(["Ã©tÃ©", "Q&A <b>x</b> &amp; y", "  spaced  ", "caf\x85 \x93quoted\x94", ""])
_URLS = st.sampled_from(["https://wire.example/a?x=1&y=2", "http:///x/y", "https://w.example/b?q=a&amp;b", "g-1",
                         "urn:uuid:1", "", " https://w.example/c "])  # fmt: skip
_DATES = st.sampled_from(["Sun, 01 Nov 2026 10:00:00 +0000", "Mon, 2 Nov 2026 10:00:00 GMT", "2026-11-01T10:00:00Z",
                          "2026-11-01T10:00:00+02:00", "yesterday", "", "Tue, 31 Feb 2026 10:00:00 EST"])  # fmt: skip


def _el(tag: str, value: str | None, attrs: str = "") -> str:
    return "" if value is None else f"<{tag}{attrs}>{escape(value)}</{tag}>"


@st.composite
def _rss_item(draw: st.DrawFn) -> str:
    perma = draw(st.sampled_from(["", ' isPermaLink="true"', ' isPermaLink="false"']))
    parts = [
        _el("title", draw(st.none() | _TEXT)),
        _el("link", draw(st.none() | _URLS)),
        _el("guid", draw(st.none() | _URLS), perma),
        _el("description", draw(st.none() | _TEXT)),
        _el("content:encoded", draw(st.none() | _TEXT)),
        _el("pubDate", draw(st.none() | _DATES)),
        _el("dc:date", draw(st.none() | _DATES)),
        _el("category", draw(st.none() | _TEXT)),
    ]
    return "<item>" + "".join(draw(st.permutations(parts))) + "</item>"


@st.composite
def _atom_entry(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["", ' type="text"', ' type="html"']))
    rels = st.sampled_from(["", ' rel="alternate"', ' rel="self"', ' rel="enclosure"', ' type="text/html"'])
    links = [f"<link{r} href={quoteattr(draw(_URLS))}/>" for r in draw(st.lists(rels, max_size=3))]
    parts = [
        _el("title", draw(st.none() | _TEXT), kind),
        _el("id", draw(st.none() | _URLS)),
        _el("summary", draw(st.none() | _TEXT), kind),
        _el("content", draw(st.none() | _TEXT), kind),
        _el("published", draw(st.none() | _DATES)),
        _el("updated", draw(st.none() | _DATES)),
        *links,
    ]
    return "<entry>" + "".join(draw(st.permutations(parts))) + "</entry>"


@st.composite
def _rdf_item(draw: st.DrawFn) -> str:
    about = draw(st.none() | _URLS)
    attrs = "" if about is None else f" rdf:about={quoteattr(about)}"
    parts = [_el("title", draw(st.none() | _TEXT)), _el("link", draw(st.none() | _URLS)),
             _el("description", draw(st.none() | _TEXT)), _el("dc:date", draw(st.none() | _DATES))]  # fmt: skip
    return f"<item{attrs}>" + "".join(draw(st.permutations(parts))) + "</item>"


_NS = ('xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:dc="http://purl.org/dc/elements/1.1/"'
       ' xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"')  # fmt: skip


@st.composite
def _feed(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["rss", "atom", "rdf"]))
    prolog = draw(st.sampled_from(["", '<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-8"?>\n']))
    if kind == "rss":
        items = "".join(draw(st.lists(_rss_item(), max_size=4)))
        doc = f'<rss version="2.0" {_NS}><channel><title>w</title>{items}</channel></rss>'
    elif kind == "atom":
        items = "".join(draw(st.lists(_atom_entry(), max_size=4)))
        doc = f'<feed xmlns="http://www.w3.org/2005/Atom"><title>w</title>{items}</feed>'
    else:
        items = "".join(draw(st.lists(_rdf_item(), max_size=4)))
        doc = f'<rdf:RDF {_NS} xmlns="http://purl.org/rss/1.0/"><channel rdf:about="x"><title>w</title></channel>{items}</rdf:RDF>'  # noqa: E501
    return (prolog + doc).encode()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_feed(), st.sampled_from(TYPES))
def test_generated_feeds_read_fast_agree_with_feedparser(content: bytes, content_type: str | None) -> None:
    assert _agrees(content, content_type)  # every generated shape is one the fast reader takes
