"""Typed, versioned records that travel on the Kafka topics and into the stores."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

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
    ticker_relevance: dict[str, str] = Field(default_factory=dict)  # ticker → "headline" | "body"
    lang: str | None = None  # ISO 639-1, set by the crawler's detector
    time_estimated: bool = False  # published time missing or in the future: the fetch time stands in

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

    @property
    def event_time(self) -> datetime:
        """When it happened for windows and indices: published time, else the producer's fetch time."""
        return self.published_at or self.fetched_at


class Prediction(_Record):
    """Both heads' output for one document, with the version that produced it."""

    sentiment: str
    sentiment_scores: dict[str, float]
    topic: str
    topic_scores: dict[str, float]
    model_version: str


def signed_score(sentiment_scores: dict[str, float]) -> float:
    """p(positive) - p(negative): the mean of this over documents is the sentiment index."""
    return sentiment_scores.get("positive", 0.0) - sentiment_scores.get("negative", 0.0)


class Rescore(_Record):
    """A document's labels under another model version (``finsentry rescore``), kept beside its own."""

    sentiment: str
    sentiment_score: float
    topic: str
    topic_score: float
    signed_score: float
    scored_at: datetime = Field(default_factory=utcnow)


class ScoredDoc(NewsItem):
    """A NewsItem with its prediction, as written to the store and ``news.scored``.

    ``story_id`` groups syndicated copies: the id of the earliest copy (its own id when none).
    ``sentiment_scores``/``topic_scores`` keep every class probability, not only the winner's.
    """

    schema_: Literal["scored.v1"] = Field(default="scored.v1", alias="schema")  # type: ignore[assignment]
    sentiment: str
    sentiment_score: float
    topic: str
    topic_score: float
    model_version: str
    scored_at: datetime = Field(default_factory=utcnow)
    sentiment_scores: dict[str, float] = Field(default_factory=dict)
    topic_scores: dict[str, float] = Field(default_factory=dict)
    signed_score: float = 0.0
    story_id: str = ""
    # version -> that version's labels; the fields above stay those of ``model_version``
    rescored: dict[str, Rescore] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _own_story(self) -> ScoredDoc:
        if not self.story_id:  # every stored document belongs to a story, its own at least
            object.__setattr__(self, "story_id", self.id)
        return self

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
            sentiment_scores=dict(pred.sentiment_scores),
            topic_scores=dict(pred.topic_scores),
            signed_score=signed_score(pred.sentiment_scores),
        )


Severity = Literal["low", "medium", "high", "critical"]
SEVERITIES: tuple[Severity, ...] = ("low", "medium", "high", "critical")  # ascending
AlertState = Literal["firing", "resolved"]


class Alert(_Record):
    """One incident of a rule on one key (e.g. negative stories on a ticker above their baseline).

    The id is derived from rule, key and ``first_window_start`` (the start of the incident's first
    firing window), so a replay or a restart updates the same alert instead of making a second one.
    ``window_start``/``window_end`` are the latest evaluated window; ``count`` its distinct stories.
    """

    schema_: Literal["alert.v2"] = Field(default="alert.v2", alias="schema")
    id: str
    rule: str
    dimension: str = "ticker"
    signal: str = "negative_stories"
    key: str
    severity: Severity = "medium"
    state: AlertState = "firing"
    first_window_start: datetime | None = None
    window_start: datetime
    window_end: datetime
    count: int
    baseline: float = 0.0
    statistic: str = ""  # name of the test, e.g. "poisson"
    score: float = 0.0  # the statistic's value (z or -log10 p)
    threshold: float = 0.0
    doc_ids: list[str]  # evidence: the stories behind the window, newest first
    model_version: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    resolved_at: datetime | None = None
    repeats: int = 0  # repeat notifications due so far (one per repeat interval since it first fired)

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


class Subscriber(_Record):
    """A webhook endpoint and what it wants; secrets are ``whsec_`` strings, newest first."""

    schema_: Literal["subscriber.v1"] = Field(default="subscriber.v1", alias="schema")
    id: str
    url: str
    secrets: list[str] = Field(repr=False)  # several sign during a rotation's overlap
    topics: list[str] = Field(default_factory=list)  # empty: every topic
    tickers: list[str] = Field(default_factory=list)  # empty: every ticker
    min_severity: Severity = "low"
    active: bool = True
    disabled_reason: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    previous_until: datetime | None = None  # after a rotation, older secrets sign until then

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


class DeliveryAttempt(_Record):
    """One HTTP try of a delivery."""

    at: datetime
    status_code: int | None = None
    error: str | None = None
    latency_ms: float = 0.0


DeliveryStatus = Literal["pending", "delivered", "failed", "disabled"]


class Delivery(_Record):
    """One notification to one subscriber; ``id`` is the ``webhook-id``, the same on every retry."""

    schema_: Literal["delivery.v1"] = Field(default="delivery.v1", alias="schema")
    id: str
    subscriber_id: str
    event: str  # "alert.firing" | "alert.resolved" | "alert.repeat"
    alert_ids: list[str]
    payload: str  # the JSON body, fixed at creation so every retry signs the same bytes
    status: DeliveryStatus = "pending"
    attempts: list[DeliveryAttempt] = Field(default_factory=list)
    next_attempt_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


class Label(_Record):
    """An analyst's correction (or a label from a file) of one document's sentiment and/or topic."""

    schema_: Literal["label.v1"] = Field(default="label.v1", alias="schema")
    id: str
    doc_id: str | None = None
    text: str  # exactly what the model read
    sentiment: str | None = None
    topic: str | None = None
    old_sentiment: str | None = None
    old_topic: str | None = None
    model_version: str | None = None
    user: str = ""
    source: str = "dashboard"  # "dashboard" or "file:<name>"
    created_at: datetime = Field(default_factory=utcnow)

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


class FeedHealth(_Record):
    """How one crawled feed is doing."""

    schema_: Literal["feedhealth.v1"] = Field(default="feedhealth.v1", alias="schema")
    name: str
    url: str
    status: Literal["ok", "error", "never"] = "never"
    last_poll_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    items_seen: int = 0
    items_new: int = 0
    next_poll_at: datetime | None = None
    etag: str | None = None
    last_modified: str | None = None

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
