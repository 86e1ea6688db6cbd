"""The common case of feed reading, fast: well-formed UTF-8 RSS 2.0, RSS 1.0 (RDF) and Atom 1.0.

feedparser reads every feed, broken ones included, but costs about 0.2 ms of CPU per item, the
largest part of the crawler's CPU path. Most feeds are well-formed UTF-8 documents built from a
handful of elements; this module reads those with the C expat parser (ElementTree) and returns the
entries feedparser would return for them, text transformations included (its whitespace
stripping, its "UTF-8 read as Latin-1" repair, its Windows-1252 mapping, its link clean-up).
Anything else (a DOCTYPE, another charset, ``xml:base``, an element this module does not know, a
repeated element, XHTML content) returns None and feedparser reads the document, so the fast path
never changes what a feed yields: tests compare both on fixtures and generated feeds.
"""

from __future__ import annotations

import contextlib
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urljoin

from feedparser.datetimes import _parse_date as feedparser_date

from ingest.normalise import utc_from_struct

_CONTENT = "{http://purl.org/rss/1.0/modules/content/}"
_DC = "{http://purl.org/dc/elements/1.1/}"
_RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
_RSS1 = "{http://purl.org/rss/1.0/}"
_ATOM = "{http://www.w3.org/2005/Atom}"
_XML_TYPES = frozenset({"", "application/rss+xml", "application/atom+xml", "application/rdf+xml",
                        "application/xml", "text/xml"})  # fmt: skip
_UTF8 = frozenset({"utf-8", "utf8"})
_ENTITY_DECL = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_DECLARED = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")
_CHARSET = re.compile(r";\s*charset\s*=\s*[\"']?([^\"';\s]+)", re.IGNORECASE)
_URI_FIX = re.compile("^([A-Za-z][A-Za-z0-9+-.]*://)(/*)(.*?)")
_LINK_REF = re.compile("&([A-Za-z0-9_]+);")
# bytes 0x80-0x9F that Windows-1252 gives letters to: feeds that mean them send them as C1 controls
_CP1252 = {c: bytes([c]).decode("cp1252") for c in range(0x80, 0xA0) if c not in (0x81, 0x8D, 0x8F, 0x90, 0x9D)}
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", "html", "xhtml"})


class _Unsupported(Exception):
    """This document needs feedparser."""


@dataclass(frozen=True)
class RawEntry:
    """What one feed entry says, before cleaning."""

    title: str | None
    link: str | None
    guid: str | None
    body: str | None
    published: datetime | None


def fast_entries(content: bytes, content_type: str | None) -> list[RawEntry] | None:
    """The entries of a plain, well-formed UTF-8 feed, or None when feedparser must read it."""
    if not _plain_utf8(content, content_type) or _ENTITY_DECL.search(content) or b"xml:base" in content:
        return None
    try:
        root = ET.fromstring(content)  # no DOCTYPE was let through, hence no entity declarations
    except (ET.ParseError, ValueError):
        return None
    reader = _READERS.get(root.tag)
    if reader is None:
        return None
    text = _Text()
    try:
        return [reader(item, text) for item in _entries(root)]
    except _Unsupported:
        return None


def _plain_utf8(content: bytes, content_type: str | None) -> bool:
    """An XML document in UTF-8 by its header and its declaration."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    found = _CHARSET.search(content_type or "")
    charset = found.group(1) if found else None
    declared = _DECLARED.match(content[:512])
    if media not in _XML_TYPES or (charset is not None and charset.lower() not in _UTF8):
        return False
    if declared is not None and declared.group(1).decode().lower() not in _UTF8:
        return False
    return content.lstrip()[:1] == b"<"  # not a byte-order mark or UTF-16: feedparser detects those


def _entries(root: ET.Element) -> Iterator[ET.Element]:
    if root.tag == _ATOM + "feed":
        return root.iter(_ATOM + "entry")
    if root.tag == _RDF + "RDF":
        return root.iter(_RSS1 + "item")
    return root.iter("item")


class _Text:
    """feedparser's treatment of an element's text (it reads every document as UTF-8 by then)."""

    def __call__(self, el: ET.Element | None) -> str | None:
        if el is None:
            return None
        if len(el):  # markup inside the element: feedparser keeps it, ElementTree would not
            raise _Unsupported
        out = (el.text or "").strip()
        # feedparser's repair of UTF-8 that something upstream decoded as Latin-1
        with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
            out = out.encode("iso-8859-1").decode("utf-8")
        return out.translate(_CP1252)

    def uri(self, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return urljoin("", _URI_FIX.sub(r"\1\3", value))
        except ValueError:
            return ""

    def time(self, el: ET.Element | None) -> time.struct_time | None:
        value = self(el)
        return feedparser_date(value) if value else None


def _children(item: ET.Element, known: frozenset[str], ignored: frozenset[str]) -> dict[str, ET.Element]:
    """An item's known children by tag; anything unknown or repeated sends the document to feedparser."""
    out: dict[str, ET.Element] = {}
    for child in item:
        tag = child.tag
        if tag in ignored:
            continue
        if tag not in known or tag in out or child.attrib.keys() - {"isPermaLink", "type"}:
            raise _Unsupported
        out[tag] = child
    return out


def _body(summary: str | None, content: str | None) -> str | None:
    if summary is None:
        summary = content  # feedparser copies text and HTML content to a missing summary
    return content if content is not None and len(content) > len(summary or "") else summary


def _when(published: time.struct_time | None, updated: time.struct_time | None) -> datetime | None:
    return utc_from_struct(published or updated)


_RSS_KNOWN = frozenset({"title", "link", "guid", "description", "pubDate", _CONTENT + "encoded", _DC + "date"})
_RSS_IGNORED = frozenset({"category", "author", "comments", "enclosure", _DC + "creator"})


def _rss_link(link: str, text: _Text) -> str:
    link = text.uri(link) or ""
    return _LINK_REF.sub(r"&\g<1>", link.replace("&amp;", "&"))


def _rss_item(item: ET.Element, text: _Text) -> RawEntry:
    if item.attrib:
        raise _Unsupported
    el = _children(item, _RSS_KNOWN, _RSS_IGNORED)
    for tag in ("title", "link", "description", _CONTENT + "encoded"):
        if tag in el and el[tag].attrib:
            raise _Unsupported
    guid_el = el.get("guid")
    permalink = guid_el is not None and guid_el.get("isPermaLink", "true") == "true"
    guid = text(guid_el)
    if permalink:
        guid = text.uri(guid)
    raw_link = text(el.get("link"))
    link = _rss_link(raw_link, text) if raw_link is not None else (guid if permalink else None)
    summary, content = text(el.get("description")), text(el.get(_CONTENT + "encoded"))
    when = _when(text.time(el.get("pubDate")), text.time(el.get(_DC + "date")))
    return RawEntry(text(el.get("title")), link, guid, _body(summary, content), when)


_RDF_KNOWN = frozenset({_RSS1 + "title", _RSS1 + "link", _RSS1 + "description", _CONTENT + "encoded", _DC + "date"})
_RDF_IGNORED = frozenset({_DC + "creator", _DC + "subject"})


def _rdf_item(item: ET.Element, text: _Text) -> RawEntry:
    if item.attrib.keys() - {_RDF + "about"}:
        raise _Unsupported
    el = _children(item, _RDF_KNOWN, _RDF_IGNORED)
    if any(child.attrib for child in el.values()):
        raise _Unsupported
    about = item.get(_RDF + "about") or None
    raw_link = text(el.get(_RSS1 + "link"))
    link = _rss_link(raw_link, text) if raw_link is not None else None
    summary, content = text(el.get(_RSS1 + "description")), text(el.get(_CONTENT + "encoded"))
    when = _when(None, text.time(el.get(_DC + "date")))
    return RawEntry(text(el.get(_RSS1 + "title")), link, about, _body(summary, content), when)


_ATOM_KNOWN = frozenset(_ATOM + t for t in ("title", "id", "summary", "content", "published", "updated"))
_ATOM_IGNORED = frozenset(_ATOM + t for t in ("author", "category", "contributor", "rights"))


def _atom_text(el: ET.Element | None, text: _Text) -> str | None:
    if el is not None and (el.attrib.keys() - {"type"} or el.get("type", "text") not in ("text", "html")):
        raise _Unsupported  # XHTML content, or content elsewhere (src)
    return text(el)


def _atom_link(item: ET.Element, text: _Text) -> str | None:
    """The last alternate HTML link's address (feedparser keeps the last one), or None."""
    link = None
    for el in item.findall(_ATOM + "link"):
        if "href" not in el.attrib or el.attrib.keys() - {"href", "rel", "type", "title", "hreflang", "length"}:
            raise _Unsupported
        rel, kind = el.get("rel", "alternate"), el.get("type", "text/html")
        if rel != rel.lower() or kind != kind.lower():
            raise _Unsupported
        if rel == "alternate" and kind in _HTML_TYPES:
            link = text.uri(el.get("href"))
    return link


def _atom_entry(item: ET.Element, text: _Text) -> RawEntry:
    if item.attrib:
        raise _Unsupported
    el = _children(item, _ATOM_KNOWN, _ATOM_IGNORED | {_ATOM + "link"})
    guid = text.uri(_atom_text(el.get(_ATOM + "id"), text))
    link = _atom_link(item, text)
    summary = _atom_text(el.get(_ATOM + "summary"), text)
    content = _atom_text(el.get(_ATOM + "content"), text)
    when = _when(text.time(el.get(_ATOM + "published")), text.time(el.get(_ATOM + "updated")))
    title = _atom_text(el.get(_ATOM + "title"), text)
    return RawEntry(title, link if link is not None else guid, guid, _body(summary, content), when)


_READERS: dict[str, Callable[[ET.Element, _Text], RawEntry]] = {
    "rss": _rss_item,
    _RDF + "RDF": _rdf_item,
    _ATOM + "feed": _atom_entry,
}
