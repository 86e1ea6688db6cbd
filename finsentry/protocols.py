"""The swappable parts, each a small Protocol; backends are picked by URL in ``factory``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from finsentry.schemas import NewsItem, Prediction, ScoredDoc


class SearchQuery(BaseModel):
    """Filters for ``DocumentStore.search``; ``None`` means no filter."""

    model_config = ConfigDict(frozen=True)
    text: str | None = None
    topic: str | None = None
    sentiment: str | None = None
    ticker: str | None = None
    source: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 20


class BucketCount(BaseModel):
    """Documents in one time bucket with one topic and sentiment."""

    model_config = ConfigDict(frozen=True)
    bucket: datetime
    topic: str
    sentiment: str
    count: int


class Classifier(Protocol):
    """Scores texts; every prediction names the model version that made it."""

    async def classify(self, texts: Sequence[str]) -> list[Prediction]:
        """One prediction per text, in order. Texts are non-empty."""
        ...

    async def close(self) -> None:
        """Release connections and threads."""
        ...


class DocumentStore(Protocol):
    """Where scored documents live; writes are idempotent upserts by id."""

    def upsert(self, docs: Sequence[ScoredDoc]) -> None:
        """Insert or replace by id; returns only when the write is durable."""
        ...

    def get(self, doc_id: str) -> ScoredDoc | None:
        """One document by id."""
        ...

    def search(self, query: SearchQuery) -> list[ScoredDoc]:
        """Newest first, filtered."""
        ...

    def counts(self, bucket_seconds: int, since: datetime | None = None) -> list[BucketCount]:
        """Documents per time bucket x topic x sentiment (by published time)."""
        ...


class NewsSource(Protocol):
    """Yields news items from somewhere (a file, a feed)."""

    def items(self) -> Sequence[NewsItem]:
        """The items this source currently holds."""
        ...
