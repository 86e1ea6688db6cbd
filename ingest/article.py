"""Full-article text: the paragraphs of an article page, without navigation, scripts or styles."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from ingest.normalise import clean_text

_DROP = frozenset({"script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form", "svg"})
_CHARSET = re.compile(rb"""<meta[^>]+charset=["']?([A-Za-z0-9_-]+)""", re.IGNORECASE)
_HEADER_CHARSET = re.compile(r"charset=([A-Za-z0-9_-]+)", re.IGNORECASE)


class _Paragraphs(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.paragraphs: list[str] = []
        self._skip = 0
        self._in_p = 0
        self._buf: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROP:
            self._skip += 1
        elif tag == "p":
            self._in_p += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROP:
            self._skip = max(0, self._skip - 1)
        elif tag == "p" and self._in_p:
            self._in_p -= 1
            text = clean_text("".join(self._buf))
            self._buf = []
            if len(text) >= 40:  # captions, bylines and buttons are shorter
                self.paragraphs.append(text)

    def handle_data(self, data: str) -> None:
        if self._in_p and not self._skip:
            self._buf.append(data)


def decode_page(content: bytes, content_type: str | None) -> str:
    """Bytes of an HTML page → text, by the header's charset, else the page's meta, else UTF-8."""
    found = _HEADER_CHARSET.search(content_type or "") or _CHARSET.search(content[:4096])
    charset = found.group(1) if found else "utf-8"
    charset = charset.decode("ascii", "replace") if isinstance(charset, bytes) else charset
    try:
        return content.decode(charset, "replace")
    except LookupError:
        return content.decode("utf-8", "replace")


def extract_article(content: bytes, content_type: str | None, limit: int = 20_000) -> str:
    """The article's paragraphs joined, at most ``limit`` characters ("" when none look like prose)."""
    parser = _Paragraphs()
    parser.feed(decode_page(content, content_type))
    parser.close()
    return " ".join(parser.paragraphs)[:limit]
