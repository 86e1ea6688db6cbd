"""Typed, versioned records that travel on the Kafka topics and into the stores."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

_CASHTAG = re.compile(r"\$([A-Z]{1,6}(?:\.[A-Z]{1,2})?)\b")


def utcnow() -> datetime:
    """Timezone-aware now, the only clock records use."""
    return datetime.now(UTC)


def extract_tickers(text: str) -> list[str]:
    """Cashtags (``$AAPL``) in order of first appearance, without the dollar sign."""
    seen: dict[str, None] = {}
    for match in _CASHTAG.finditer(text):
        seen.setdefault(match.group(1), None)
    return list(seen)


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    def to_json_bytes(self) -> bytes:
        """Compact UTF-8 JSON for a Kafka value."""
        return self.model_dump_json().encode("utf-8")


class NewsItem(_Record):
    """A crawled story as it enters ``news.raw``."""

    schema_: Literal["news.v1"] = Field(default="news.v1", alias="schema")
    id: str
    source: str = Field(min_length=1, max_length=200)
    url: str | None = None
    guid: str | None = None
    title: str = Field(max_length=2000)
    body: str = ""
    published_at: datetime | None = None
    fetched_at: datetime = Field(default_factory=utcnow)
    tickers: list[str] = Field(default_factory=list)

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    @field_validator("published_at", "fetched_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        # naive times are taken as UTC so that range queries compare like with like
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value

    @property
    def text(self) -> str:
        """What the classifier reads: the headline, or the body when there is none."""
        return self.title.strip() or self.body.strip()


class Prediction(_Record):
    """Both heads' output for one document, with the version that produced it."""

    sentiment: str
    sentiment_scores: dict[str, float]
    topic: str
    topic_scores: dict[str, float]
    model_version: str


class ScoredDoc(NewsItem):
    """A NewsItem with its prediction, as written to the store and ``news.scored``."""

    schema_: Literal["scored.v1"] = Field(default="scored.v1", alias="schema")  # type: ignore[assignment]
    sentiment: str
    sentiment_score: float
    topic: str
    topic_score: float
    model_version: str
    scored_at: datetime = Field(default_factory=utcnow)

    @classmethod
    def from_prediction(cls, item: NewsItem, pred: Prediction) -> ScoredDoc:
        """Join an item and its prediction."""
        data = item.model_dump(exclude={"schema_"})
        return cls(
            **data,
            sentiment=pred.sentiment,
            sentiment_score=pred.sentiment_scores[pred.sentiment],
            topic=pred.topic,
            topic_score=pred.topic_scores[pred.topic],
            model_version=pred.model_version,
        )


class Alert(_Record):
    """A surge (e.g. of negative stories on a ticker) in a time window."""

    schema_: Literal["alert.v1"] = Field(default="alert.v1", alias="schema")
    id: str
    rule: str
    key: str
    window_start: datetime
    window_end: datetime
    count: int
    doc_ids: list[str]
    created_at: datetime = Field(default_factory=utcnow)

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


class DeadLetter(_Record):
    """A record that could not be processed: original bytes, where and why."""

    schema_: Literal["deadletter.v1"] = Field(default="deadletter.v1", alias="schema")
    id: str
    stage: str
    reason: str
    original_b64: str
    source_topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    time: datetime = Field(default_factory=utcnow)

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    @property
    def original(self) -> bytes:
        """The bytes exactly as received."""
        return base64.b64decode(self.original_b64)
