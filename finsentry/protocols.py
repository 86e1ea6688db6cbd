"""The swappable parts, each a small Protocol; backends are picked by URL in the composition root."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from finsentry.schemas import (
    Alert,
    AlertState,
    Delivery,
    DeliveryStatus,
    FeedHealth,
    Label,
    NewsItem,
    Prediction,
    ScoredDoc,
    Subscriber,
)

Dimension = Literal["all", "topic", "ticker", "source", "sentiment"]


class SearchQuery(BaseModel):
    """Filters for ``DocumentStore.search``; ``None`` means no filter.

    ``after`` is the cursor of the last document of the previous page (``cursor_of``): deep
    pagination by (event time, id), never by offset.
    """

    model_config = ConfigDict(frozen=True)
    text: str | None = None
    topic: str | None = None
    sentiment: str | None = None
    ticker: str | None = None
    source: str | None = None
    story_id: str | None = None
    model_version: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    after: str | None = Field(default=None, pattern=r"^-?[0-9]{1,20}:.+$", max_length=1000)
    limit: int = Field(default=20, ge=1, le=10_000)


def cursor_of(doc: ScoredDoc) -> str:
    """The pagination cursor after ``doc``: its event time in microseconds and its id."""
    return f"{round(doc.event_time.timestamp() * 1_000_000)}:{doc.id}"


class BucketCount(BaseModel):
    """Documents in one time bucket with one topic and sentiment."""

    model_config = ConfigDict(frozen=True)
    bucket: datetime
    topic: str
    sentiment: str
    count: int


class TrendQuery(BaseModel):
    """Aggregation per time bucket (aligned to UTC multiples of ``bucket_seconds``) × one dimension."""

    model_config = ConfigDict(frozen=True)
    bucket_seconds: int = Field(ge=1)
    dimension: Dimension = "all"
    since: datetime | None = None
    until: datetime | None = None
    topic: str | None = None
    ticker: str | None = None
    source: str | None = None
    sentiment: str | None = None


class TrendBucket(BaseModel):
    """One bucket of one key: documents, distinct stories, negatives, mean signed sentiment score.

    A document with several tickers counts once for each under ``dimension="ticker"``;
    ``key`` is ``"all"`` for that dimension.
    """

    model_config = ConfigDict(frozen=True)
    bucket: datetime
    key: str
    count: int
    stories: int
    negative: int
    mean_score: float


class KeyStat(BaseModel):
    """One key over a period (top tickers by negative share)."""

    model_config = ConfigDict(frozen=True)
    key: str
    count: int
    negative: int
    negative_share: float
    mean_score: float


class Rejected(BaseModel):
    """A document the store refused on its own (mapping error, too large), with the server's reason."""

    model_config = ConfigDict(frozen=True)
    doc_id: str
    reason: str


class Classifier(Protocol):
    """Scores texts; every prediction names the model version that made it."""

    async def classify(self, texts: Sequence[str]) -> list[Prediction]:
        """One prediction per text, in order. Texts are non-empty."""
        ...

    async def close(self) -> None:
        """Release connections and threads."""
        ...


class DocumentStore(Protocol):
    """Where scored documents live; writes are idempotent upserts by id.

    Both backends (SQLite, Elasticsearch) answer every read with the same values.
    """

    def upsert(self, docs: Sequence[ScoredDoc]) -> list[Rejected]:
        """Insert or replace by id; returns when the write is durable, with what was refused."""
        ...

    def get(self, doc_id: str) -> ScoredDoc | None:
        """One document by id."""
        ...

    def search(self, query: SearchQuery) -> list[ScoredDoc]:
        """Newest first (event time, then id), filtered, from the cursor ``query.after``."""
        ...

    def counts(self, bucket_seconds: int, since: datetime | None = None) -> list[BucketCount]:
        """Documents per time bucket x topic x sentiment (by event time)."""
        ...

    def trend(self, query: TrendQuery) -> list[TrendBucket]:
        """Per bucket x key: counts, distinct stories, negatives, mean signed score; oldest first."""
        ...

    def top_keys(
        self, dimension: Dimension, since: datetime, until: datetime | None, min_count: int, limit: int
    ) -> list[KeyStat]:
        """Keys by negative share (then count) with at least ``min_count`` documents."""
        ...


class ManagedStore(DocumentStore, Protocol):
    """A document store the ``finsentry index`` commands administer (both backends implement it)."""

    def ensure(self) -> None:
        """Create what is missing (indices, templates); refuse an incompatible existing layout."""
        ...

    def prune(self, retention_months: int, now: datetime | None = None) -> int:
        """Drop documents older than the retention (whole months by event time); return how many."""
        ...

    def total(self) -> int:
        """How many documents are stored."""
        ...


class AlertStore(Protocol):
    """Alerts by id: an upsert keeps one record per incident."""

    def put_alert(self, alert: Alert) -> None:
        """Insert or replace by id (durable on return)."""
        ...

    def get_alert(self, alert_id: str) -> Alert | None:
        """One alert."""
        ...

    def list_alerts(
        self, state: AlertState | None = None, since: datetime | None = None, limit: int = 100
    ) -> list[Alert]:
        """Newest first (by ``updated_at``)."""
        ...


class SubscriberStore(Protocol):
    """Webhook subscribers."""

    def put_subscriber(self, sub: Subscriber) -> None:
        """Insert or replace by id."""
        ...

    def list_subscribers(self) -> list[Subscriber]:
        """Every subscriber, active or not."""
        ...

    def remove_subscriber(self, sub_id: str) -> bool:
        """Delete; False when it did not exist."""
        ...


class DeliveryStore(Protocol):
    """Webhook deliveries and their attempts."""

    def put_delivery(self, delivery: Delivery) -> None:
        """Insert or replace by id (the webhook-id)."""
        ...

    def get_delivery(self, delivery_id: str) -> Delivery | None:
        """One delivery."""
        ...

    def list_deliveries(self, status: DeliveryStatus | None = None, limit: int = 100) -> list[Delivery]:
        """Newest first."""
        ...


class LabelStore(Protocol):
    """Analysts' corrections and imported labels; the latest label of a document wins on export."""

    def add_label(self, label: Label) -> None:
        """Store one label (durable on return)."""
        ...

    def labels(self, since: datetime | None = None) -> list[Label]:
        """Labels created at or after ``since``, oldest first."""
        ...


class FeedHealthStore(Protocol):
    """Per-feed crawler health, seen by every process."""

    def put_health(self, health: FeedHealth) -> None:
        """Insert or replace by feed name."""
        ...

    def list_health(self) -> list[FeedHealth]:
        """Every feed's latest health."""
        ...


class SeenItems(Protocol):
    """The crawler's durable memory of what it already produced, with expiry."""

    def unseen(self, keys: Sequence[str]) -> list[str]:
        """The keys not remembered, in the given order."""
        ...

    def remember(self, keys: Sequence[str], at: datetime) -> None:
        """Remember keys as seen at ``at`` (durable on return)."""
        ...

    def expire(self, before: datetime) -> int:
        """Forget keys seen before ``before``; return how many."""
        ...


class StoryIndex(Protocol):
    """Groups syndicated copies into stories: the worker asks it before storing a batch."""

    def assign(self, docs: Sequence[ScoredDoc]) -> list[ScoredDoc]:
        """The same documents with ``story_id`` set to the earliest known copy's id."""
        ...


class NewsSource(Protocol):
    """Yields news items from somewhere (a file, a feed)."""

    def items(self) -> Sequence[NewsItem]:
        """The items this source currently holds."""
        ...
