"""Feed bytes → normalised NewsItems: RSS 0.9x/1.0/2.0 and Atom (feedparser), JSON APIs, JSON lines.

One entry point per kind, each failing only with :class:`FeedError`; a feed that is damaged but
still yields items returns them together with the problem, so no good item is lost.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import feedparser

from finsentry.errors import FinsentryError, InvalidRecord
from finsentry.ids import canonical_url, content_id, doc_id
from finsentry.schemas import NewsItem
from ingest.config import FeedSpec, JsonFields
from ingest.normalise import clean_text, detect_language, parse_time, published_or_fetch, utc_from_struct
from ingest.tickers import link_tickers
from ingest.xmlfeed import RawEntry, fast_entries

log = logging.getLogger(__name__)
MAX_TITLE = 2000
MAX_BODY = 20_000
# feedparser flags these when the charset header and the document disagree; the text is still right
_HARMLESS = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)


class FeedError(FinsentryError):
    """A feed could not be fetched or read; the message is the reason shown in its health."""


@dataclass
class Parsed:
    """Items of one fetch and, when the feed was damaged, what was wrong with it."""

    items: list[NewsItem] = field(default_factory=list)
    problem: str | None = None


def build_item(entry: RawEntry, source: str, fetched_at: datetime) -> NewsItem | None:
    """Clean one entry into a NewsItem; None when it has no text at all."""
    title = clean_text(entry.title, MAX_TITLE)
    body = clean_text(entry.body, MAX_BODY)
    if not title and not body:
        return None
    url: str | None = None
    if entry.link:
        try:
            url = canonical_url(entry.link)
        except InvalidRecord:
            url = None
    guid = (entry.guid or "").strip()[:500] or None
    if url is None and guid is None:  # no link and no guid: the text itself identifies the item
        guid = "content:" + content_id(title, body)
    published, estimated = published_or_fetch(entry.published, fetched_at)
    mentions = link_tickers(title, body)
    return NewsItem(
        id=doc_id(url, source, guid),
        source=source,
        url=url,
        guid=guid,
        title=title,
        body=body,
        published_at=published,
        fetched_at=fetched_at,
        tickers=[m.ticker for m in mentions],
        ticker_relevance={m.ticker: m.relevance for m in mentions},
        lang=detect_language(f"{title}. {body[:160]}"),
        time_estimated=estimated,
    )


def _items(entries: list[RawEntry], source: str, fetched_at: datetime) -> list[NewsItem]:
    out: dict[str, NewsItem] = {}
    for entry in entries:
        item = build_item(entry, source, fetched_at)
        if item is not None:
            out.setdefault(item.id, item)  # a feed listing one item twice yields it once
    return list(out.values())


def _looks_like_html(content: bytes) -> bool:
    head = content[:2048].lower()
    return b"<html" in head or b"<!doctype html" in head


def _feed_entry(entry: Any) -> RawEntry:
    body = entry.get("summary")
    contents = entry.get("content") or []
    if contents and isinstance(contents[0], dict) and len(contents[0].get("value") or "") > len(body or ""):
        body = contents[0].get("value")
    when = utc_from_struct(entry.get("published_parsed") or entry.get("updated_parsed"))
    return RawEntry(entry.get("title"), entry.get("link"), entry.get("id"), body, when)


def parse_feed(content: bytes, content_type: str | None, source: str, fetched_at: datetime) -> Parsed:
    """Parse an RSS/RDF/Atom document (charset from the header, the XML declaration or a guess).

    Raises:
        FeedError: not a feed at all (an HTML page, garbage) and nothing could be recovered.

    """
    entries = fast_entries(content, content_type)
    if entries is not None:  # a plain well-formed feed: the same entries feedparser would give, faster
        return Parsed(_items(entries, source, fetched_at))
    return parse_with_feedparser(content, content_type, source, fetched_at)


def parse_with_feedparser(content: bytes, content_type: str | None, source: str, fetched_at: datetime) -> Parsed:
    """:func:`parse_feed` by feedparser alone: every dialect, broken documents included.

    Raises:
        FeedError: not a feed at all (an HTML page, garbage) and nothing could be recovered.

    """
    headers = {"content-type": content_type} if content_type else {}
    try:
        doc = feedparser.parse(content, response_headers=headers, sanitize_html=False, resolve_relative_uris=False)
    except Exception as exc:  # feedparser's own failures are this feed's problem only
        raise FeedError(f"unreadable feed: {type(exc).__name__}: {exc}") from exc
    entries = [_feed_entry(e) for e in doc.entries]
    bozo = doc.get("bozo_exception") if doc.get("bozo") else None
    if not doc.get("version") and not entries:
        if _looks_like_html(content):
            raise FeedError("not a feed: the server answered an HTML page")
        raise FeedError(f"malformed feed: {bozo or 'no RSS or Atom element'}")
    parsed = Parsed(_items(entries, source, fetched_at))
    if bozo is not None and not isinstance(bozo, _HARMLESS):
        parsed.problem = f"malformed XML ({len(parsed.items)} items recovered): {str(bozo)[:200]}"
    return parsed


def _path(obj: Any, dotted: str) -> Any:
    for part in [p for p in dotted.split(".") if p]:
        if isinstance(obj, dict):
            obj = obj.get(part)
        elif isinstance(obj, list) and part.isdigit() and int(part) < len(obj):
            obj = obj[int(part)]
        else:
            return None
    return obj


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _json_entry(obj: dict[str, Any], fields: JsonFields) -> RawEntry:
    guid = _path(obj, fields.guid)
    return RawEntry(
        _text(_path(obj, fields.title)),
        _text(_path(obj, fields.url)),
        str(guid) if isinstance(guid, str | int) and not isinstance(guid, bool) else None,
        _text(_path(obj, fields.body)),
        parse_time(_path(obj, fields.published)),
    )


def parse_json(content: bytes, spec: FeedSpec, fetched_at: datetime) -> Parsed:
    """A JSON API answer: the list at ``spec.items_path`` of objects mapped by ``spec.fields``.

    Raises:
        FeedError: not JSON, or no list where the items should be.

    """
    try:
        doc = json.loads(content)
    except (ValueError, RecursionError) as exc:
        raise FeedError(f"not JSON: {str(exc)[:200]}") from None
    listing = _path(doc, spec.items_path)
    if not isinstance(listing, list):
        raise FeedError(f"no list of items at {spec.items_path or 'the top level'!r}")
    entries = [_json_entry(o, spec.fields) for o in listing if isinstance(o, dict)]
    skipped = len(listing) - len(entries)
    parsed = Parsed(_items(entries, spec.name, fetched_at))
    if skipped:
        parsed.problem = f"{skipped} items are not JSON objects"
    return parsed


def parse_jsonl(content: bytes, spec: FeedSpec, fetched_at: datetime) -> Parsed:
    """JSON lines: one object a line; bad lines are counted and reported, good ones kept.

    Raises:
        FeedError: never for bad lines (they are reported in ``problem``).

    """
    entries: list[RawEntry] = []
    bad = 0
    for line in content.splitlines():
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError):
            bad += 1
            continue
        if isinstance(obj, dict):
            entries.append(_json_entry(obj, spec.fields))
        else:
            bad += 1
    parsed = Parsed(_items(entries, spec.name, fetched_at))
    if bad:
        parsed.problem = f"{bad} lines are not JSON objects"
    return parsed


def parse_any(content: bytes, content_type: str | None, spec: FeedSpec, fetched_at: datetime) -> Parsed:
    """Dispatch on the feed's kind.

    Raises:
        FeedError: the document is not a feed of its kind.

    """
    if spec.kind == "json":
        return parse_json(content, spec, fetched_at)
    if spec.kind == "jsonl":
        return parse_jsonl(content, spec, fetched_at)
    return parse_feed(content, content_type, spec.name, fetched_at)
