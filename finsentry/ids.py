"""Deterministic ids: the same story always gets the same id, so re-ingesting is harmless."""

from __future__ import annotations

import hashlib
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from finsentry.errors import InvalidRecord

# Query parameters that track the click, not the story.
_TRACKING = re.compile(r"^(utm_.*|fbclid|gclid|mc_cid|mc_eid|ref|cmpid|ncid)$", re.IGNORECASE)


def canonical_url(url: str) -> str:
    """Normalise a URL so that trivially different spellings of one story match.

    Lower-cases scheme and host, drops default ports, fragments, tracking parameters
    and a trailing slash, and sorts the remaining query.

    Raises:
        InvalidRecord: not an absolute http(s) URL.

    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port  # parsed on access: a port that is not a number 0-65535 raises here
    except ValueError as exc:  # also an unclosed IPv6 bracket
        raise InvalidRecord(f"not a valid URL ({exc}): {url[:200]!r}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise InvalidRecord(f"not an absolute http(s) URL: {url[:200]!r}")
    host = parts.hostname.lower()
    netloc = host if port in (None, 80, 443) else f"{host}:{port}"
    query = sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING.match(k))
    path = parts.path.rstrip("/") or "/"
    return urlunsplit((scheme, netloc, path, urlencode(query), ""))


def doc_id(url: str | None, source: str = "", guid: str | None = None) -> str:
    """The document id: SHA-256 of the canonical URL, else of source + guid (hex, 32 chars).

    Raises:
        InvalidRecord: neither a usable URL nor a guid.

    """
    if url:
        key = "url:" + canonical_url(url)
    elif guid:
        key = f"guid:{source}\x1f{guid}"
    else:
        raise InvalidRecord("record has neither url nor guid, so it has no stable id")
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def content_id(*parts: bytes | str) -> str:
    """A stable id over arbitrary parts (dead letters, alerts)."""
    h = hashlib.sha256()
    for part in parts:
        data = part if isinstance(part, bytes) else part.encode("utf-8")
        h.update(len(data).to_bytes(8, "big"))  # length prefix: ("a", "bc") never equals ("ab", "c")
        h.update(data)
    return h.hexdigest()[:32]
