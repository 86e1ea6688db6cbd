"""Clean text, times and languages of crawled items: markup out, entities decoded, UTC times."""

from __future__ import annotations

import calendar
import re
import time
import unicodedata
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from html.parser import HTMLParser
from typing import Any

_DROP = frozenset({"script", "style", "noscript", "template", "iframe", "object", "svg", "head", "title"})
_BLOCK = frozenset({"p", "div", "br", "li", "ul", "ol", "tr", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6",
                    "section", "article", "blockquote", "pre", "hr", "table"})  # fmt: skip
_SPACE = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\ufeff]")
_MARKUP_HINT = re.compile(r"[<&]")
FUTURE_SLACK = timedelta(minutes=5)  # clocks of feed servers drift; beyond this a date is wrong


class _TextOnly(HTMLParser):
    """Collects text, skipping the content of script/style-like elements."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROP:
            self._skip += 1
        elif tag in _BLOCK:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROP:
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCK:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def clean_text(value: str | None, limit: int = 100_000) -> str:
    """Plain text of an HTML or text fragment.

    Tags removed (scripts, styles and the like with their content), entities decoded, control
    characters dropped, whitespace folded, Unicode NFC, at most ``limit`` characters.
    """
    if not value:
        return ""
    text = value[: limit * 4]
    if _MARKUP_HINT.search(text):
        parser = _TextOnly()
        parser.feed(text)
        parser.close()
        text = "".join(parser.parts)
    text = _CONTROL.sub(" ", text)
    text = _SPACE.sub(" ", text).strip()
    return unicodedata.normalize("NFC", text)[:limit]


def utc_from_struct(value: time.struct_time | None) -> datetime | None:
    """A feedparser time tuple (always UTC) as an aware datetime, or None."""
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), UTC)
    except (OverflowError, ValueError, OSError):
        return None


def parse_time(value: Any) -> datetime | None:
    """ISO 8601 text, epoch seconds or milliseconds → an aware UTC datetime; None when unusable."""
    try:
        if isinstance(value, bool):
            return None
        if isinstance(value, int | float):
            seconds = value / 1000 if value > 1e11 else value
            return datetime.fromtimestamp(seconds, UTC)
        if isinstance(value, str) and value.strip():
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return None


def published_or_fetch(published: datetime | None, fetched: datetime) -> tuple[datetime, bool]:
    """The item's time and whether it was estimated: missing or future dates become the fetch time."""
    if published is None or published > fetched + FUTURE_SLACK or published.year < 1990:
        return fetched, True
    return published.astimezone(UTC), False


_LANGS = ("ENGLISH", "GERMAN", "FRENCH", "SPANISH", "ITALIAN", "PORTUGUESE", "DUTCH", "SWEDISH", "JAPANESE",
          "CHINESE", "KOREAN", "RUSSIAN", "ARABIC", "HINDI", "TURKISH", "POLISH")  # fmt: skip


@lru_cache(maxsize=1)
def _detector() -> Any:
    # lingua ships its language models inside the wheel: nothing is downloaded.
    from lingua import Language, LanguageDetectorBuilder

    langs = [getattr(Language, name) for name in _LANGS]
    return (
        LanguageDetectorBuilder.from_languages(*langs).with_low_accuracy_mode().with_preloaded_language_models().build()
    )


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of the text's language, or None when it is too short or unclear."""
    sample = text[:120]  # a headline and the start of its body: enough, and detection cost grows with length
    if sum(map(str.isalpha, sample)) < 8:
        return None
    found = _detector().detect_language_of(sample)
    return None if found is None else str(found.iso_code_639_1.name.lower())
