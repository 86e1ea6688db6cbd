"""The feeds file: one validating parser whose only failure is :class:`FeedConfigError`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from finsentry.errors import ConfigError, InvalidRecord
from finsentry.ids import canonical_url

FeedKind = Literal["rss", "json", "jsonl"]


class FeedConfigError(ConfigError):
    """The feeds file cannot be used; the message names the file, the entry and the field."""


class JsonFields(BaseModel):
    """Where a JSON API's item keeps each field (dotted paths inside one item)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    title: str = "title"
    url: str = "url"
    body: str = "body"
    published: str = "published_at"
    guid: str = "id"


class FeedSpec(BaseModel):
    """One feed of the file.

    ``kind``: ``rss`` (RSS 0.9x, 1.0, 2.0 and Atom), ``json`` (an HTTP API answering a JSON
    document whose ``items_path`` holds a list of objects) or ``jsonl`` (one JSON object a line).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9._ -]*$")
    url: str = Field(max_length=2000)
    kind: FeedKind = "rss"
    interval_s: float = Field(default=300.0, ge=1.0, le=86_400.0)
    full_text: bool = False
    items_path: str = ""
    fields: JsonFields = JsonFields()

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme == "file":  # a local file the operator names, e.g. a JSON-lines export
            if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
                raise ValueError(f"a file URL needs an absolute path (file:///path): {value[:200]!r}")
            return value.strip()
        try:
            canonical_url(value)
        except InvalidRecord as exc:
            raise ValueError(str(exc)) from None
        return value.strip()


class _FeedsFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    feeds: list[FeedSpec] = Field(min_length=1)


def _where(data: Any, loc: tuple[int | str, ...]) -> str:
    if len(loc) >= 2 and loc[0] == "feeds" and isinstance(loc[1], int):
        entry = f"feeds[{loc[1]}]"
        feeds = data.get("feeds") if isinstance(data, dict) else None
        item = feeds[loc[1]] if isinstance(feeds, list) and loc[1] < len(feeds) else None
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            entry += f" ({item['name']!r})"
        field = ".".join(str(p) for p in loc[2:]) or "entry"
        return f"{entry}: {field}"
    return ".".join(str(p) for p in loc) or "top level"


def parse_feeds(text: str | bytes, origin: str = "<feeds>") -> list[FeedSpec]:
    """Validate a feeds document.

    Raises:
        FeedConfigError: "<origin>: feeds[2] ('wire-c'): url: ..." for the first problem(s).

    """
    try:
        data = yaml.safe_load(text)
    except (yaml.YAMLError, UnicodeDecodeError, ValueError) as exc:
        raise FeedConfigError(f"{origin}: not valid YAML: {str(exc).splitlines()[0][:200]}") from None
    if not isinstance(data, dict):
        raise FeedConfigError(f"{origin}: expected a mapping with a 'feeds' list, got {type(data).__name__}")
    try:
        parsed = _FeedsFile.model_validate(data)
    except ValidationError as exc:
        problems = [f"{_where(data, tuple(e['loc']))}: {e['msg']}" for e in exc.errors()[:3]]
        raise FeedConfigError(f"{origin}: " + "; ".join(problems)) from None
    names = [f.name for f in parsed.feeds]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise FeedConfigError(f"{origin}: feeds[{i}] ({name!r}): name: duplicate feed name")
    return parsed.feeds


def load_feeds(path: Path) -> list[FeedSpec]:
    """Read and validate a feeds file.

    Raises:
        FeedConfigError: unreadable or invalid, with file, entry and field.

    """
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise FeedConfigError(f"{path}: cannot read feeds file: {exc.strerror}") from None
    return parse_feeds(text, str(path))
