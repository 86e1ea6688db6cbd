"""The crawl loop: poll feeds concurrently, keep what is new, produce it, record each feed's health.

A feed's failure ends in one log line and its health record; it never raises out of a poll and
never delays another feed (each feed is its own task; hosts are limited separately).
Order per poll: produce new items, wait for the acknowledgement, then remember them in the
seen-set, so a crash in between produces at most a duplicate that the worker's upsert absorbs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from finsentry.errors import FinsentryError
from finsentry.ids import content_id
from finsentry.metrics import CRAWLER_ITEMS, CRAWLER_POLLS
from finsentry.protocols import FeedHealthStore, SeenItems
from finsentry.schemas import FeedHealth, NewsItem, utcnow
from finsentry.settings import IngestSettings
from ingest.article import extract_article
from ingest.config import FeedSpec
from ingest.fetch import Fetcher, RetryLater
from ingest.parse import FeedError, Parsed, parse_any
from ingest.producer import ItemSink

log = logging.getLogger(__name__)
READY_LINE = "ingest: crawling"  # `finsentry ingest run` prints it once polling starts
MAX_ERROR_BACKOFF = 8  # a failing feed is polled at most 8x less often


def seen_key(item: NewsItem) -> str:
    """The seen-set key: the id and the headline, so a corrected headline is produced again."""
    return f"{item.id}:{content_id(item.title)[:12]}"


class Crawler:
    """Polls a set of feeds into a sink.

    Args:
        feeds: the validated feeds.
        fetcher: polite HTTP.
        sink: where new items go (Kafka ``news.raw`` in production).
        health: durable per-feed health.
        seen: durable seen-set.
        settings: the ``ingest`` settings.
        clock: UTC now.

    """

    def __init__(
        self,
        feeds: Sequence[FeedSpec],
        fetcher: Fetcher,
        sink: ItemSink,
        health: FeedHealthStore,
        seen: SeenItems,
        settings: IngestSettings,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.feeds = list(feeds)
        self.fetcher, self._sink, self._health, self._seen = fetcher, sink, health, seen
        self._s = settings
        self._clock = clock
        self._last = {h.name: h for h in health.list_health()}
        self._failures: dict[str, int] = {}
        self._claimed: set[str] = set()  # keys being produced by another feed's poll right now

    async def poll_all(self) -> list[FeedHealth]:
        """Poll every feed once, concurrently; the health of each, in feed order."""
        self._seen.expire(self._clock() - timedelta(days=self._s.seen_ttl_days))
        return list(await asyncio.gather(*(self.poll(f) for f in self.feeds)))

    async def run(self, stop: asyncio.Event) -> None:
        """Poll each feed at its own interval until ``stop`` is set."""
        self._seen.expire(self._clock() - timedelta(days=self._s.seen_ttl_days))
        await asyncio.gather(*(self._loop(f, stop) for f in self.feeds))

    async def _loop(self, spec: FeedSpec, stop: asyncio.Event) -> None:
        while not stop.is_set():
            health = await self.poll(spec)
            wait = ((health.next_poll_at or self._clock()) - self._clock()).total_seconds()
            try:
                await asyncio.wait_for(stop.wait(), timeout=max(wait, 1.0))
            except TimeoutError:
                continue

    async def poll(self, spec: FeedSpec) -> FeedHealth:
        """Fetch, parse, produce what is new, record health. Never raises for the feed's faults."""
        now = self._clock()
        prev = self._last.get(spec.name) or FeedHealth(name=spec.name, url=spec.url)
        if prev.url != spec.url:  # the feed moved: validators of the old address mean nothing
            prev = FeedHealth(name=spec.name, url=spec.url)
        update: dict[str, object] = {"url": spec.url, "last_poll_at": now}
        retry_after = 0.0
        try:
            seen, new, parsed, fetched = await self._collect(spec, prev)
            update |= {"items_seen": seen, "items_new": new, "etag": fetched[0], "last_modified": fetched[1]}
            if parsed.problem:
                raise FeedError(parsed.problem)
            update |= {"status": "ok", "last_success_at": now}
            self._failures[spec.name] = 0
        except FinsentryError as exc:
            retry_after = exc.retry_after_s if isinstance(exc, RetryLater) else 0.0
            update |= self._failed(spec, str(exc), now)
        except Exception as exc:  # a bug on one feed must not stop the others
            log.exception("feed %s: unexpected failure", spec.name)
            update |= self._failed(spec, f"internal error: {type(exc).__name__}: {exc}", now)
        factor = min(2 ** self._failures.get(spec.name, 0), MAX_ERROR_BACKOFF)
        update["next_poll_at"] = now + timedelta(seconds=max(spec.interval_s * factor, retry_after))
        health = prev.model_copy(update=update)
        self._last[spec.name] = health
        CRAWLER_POLLS.labels(spec.name, health.status).inc()
        CRAWLER_ITEMS.labels(spec.name).inc(int(update.get("items_new", 0)))  # type: ignore[call-overload]
        try:
            self._health.put_health(health)
        except Exception:  # the store being away must not stop the crawl; the next poll writes again
            log.exception("feed %s: health not stored", spec.name)
        return health

    def _failed(self, spec: FeedSpec, reason: str, now: datetime) -> dict[str, object]:
        log.warning("feed %s (%s): %s", spec.name, spec.url, reason)
        self._failures[spec.name] = self._failures.get(spec.name, 0) + 1
        return {"status": "error", "last_error": reason, "last_error_at": now}

    async def _collect(
        self, spec: FeedSpec, prev: FeedHealth
    ) -> tuple[int, int, Parsed, tuple[str | None, str | None]]:
        """(items seen, items new, the parse, validators); new items are produced before returning."""
        fetched = await self.fetcher.fetch(spec.url, prev.etag, prev.last_modified)
        validators = (fetched.etag or prev.etag, fetched.last_modified or prev.last_modified)
        if fetched.not_modified:
            return 0, 0, Parsed(), validators
        parsed = await asyncio.to_thread(parse_any, fetched.content, fetched.content_type, spec, self._clock())
        keys = {seen_key(item): item for item in parsed.items}
        # check and claim without an await in between: two feeds listing one item produce it once
        claimed = [k for k in self._seen.unseen(list(keys)) if k not in self._claimed]
        self._claimed.update(claimed)
        try:
            fresh = [keys[k] for k in claimed]
            if fresh and spec.full_text:
                fresh = await self._with_articles(fresh)
            if fresh:
                await asyncio.to_thread(self._sink.send, fresh)
                self._seen.remember(claimed, self._clock())
        finally:
            self._claimed.difference_update(claimed)
        log.info("feed %s: %d items, %d new", spec.name, len(parsed.items), len(fresh))
        return len(parsed.items), len(fresh), parsed, validators

    async def _with_articles(self, items: list[NewsItem]) -> list[NewsItem]:
        out = []
        for n, item in enumerate(items):
            if item.url and n < self._s.max_articles_per_poll:
                try:
                    page = await self.fetcher.fetch(item.url)
                    text = extract_article(page.content, page.content_type)
                    if len(text) > len(item.body):
                        item = item.model_copy(update={"body": text})
                except FeedError as exc:  # the summary stands in; the item is not lost
                    log.info("article %s: %s", item.url, exc)
            out.append(item)
        return out
