"""Ingest commands of the ``finsentry`` CLI: topics, replay, and the feed crawler (once, run, status)."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from finsentry.errors import ConfigError
from finsentry.settings import Settings

if TYPE_CHECKING:
    from ingest.config import FeedSpec
    from ingest.crawler import Crawler
    from ingest.producer import ItemSink

ingest_app = typer.Typer(help="Put news on the raw topic: replay files, crawl feeds.", no_args_is_help=True)


def _settings(ctx: typer.Context) -> Settings:
    settings: Settings = ctx.obj
    return settings


def _echo(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, default=str) + "\n")


@ingest_app.command("create-topics")
def create_topics(ctx: typer.Context) -> None:
    """Create the pipeline's topics on the broker (idempotent)."""
    from finsentry import topics
    from finsentry.app.ops import bootstrap_of
    from finsentry.broker import ensure_topics

    settings = _settings(ctx)
    ensure_topics(bootstrap_of(settings), settings.kafka.partitions)
    _echo({"topics": list(topics.ALL), "partitions": settings.kafka.partitions})


@ingest_app.command("replay")
def replay(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="JSON lines of news items.")],
    rate: Annotated[float, typer.Option(help="Records per second (0 = as fast as possible).")] = 0.0,
) -> None:
    """Replay a JSON-lines file onto news.raw."""
    from finsentry.app.ops import bootstrap_of
    from finsentry.broker import ensure_topics
    from ingest.replay import replay as replay_file

    settings = _settings(ctx)
    ensure_topics(bootstrap_of(settings), settings.kafka.partitions)
    sent, dead = replay_file(file, bootstrap_of(settings), rate)
    _echo({"sent": sent, "dead_letters": dead})


def _feeds(settings: Settings, path: Path | None) -> list[FeedSpec]:
    from ingest.config import load_feeds

    path = path or settings.ingest.feeds
    if path is None:
        raise ConfigError("no feeds file: set FINSENTRY_INGEST__FEEDS or pass --feeds")
    return load_feeds(path)


def _sink(settings: Settings, out: Path | None) -> ItemSink:
    from finsentry.app.ops import bootstrap_of
    from finsentry.broker import ensure_topics
    from ingest.producer import JsonLinesSink, KafkaSink

    if out is not None:
        return JsonLinesSink(out)
    ensure_topics(bootstrap_of(settings), settings.kafka.partitions)
    return KafkaSink(bootstrap_of(settings), settings.ingest.buffer_bytes)


def _crawler(settings: Settings, feeds: list[FeedSpec], sink: ItemSink) -> Crawler:
    from finsentry.app.factory import make_crawler_state
    from ingest.crawler import Crawler
    from ingest.fetch import Fetcher

    health, seen = make_crawler_state(settings)
    return Crawler(feeds, Fetcher(settings.ingest), sink, health, seen, settings.ingest)


async def _once(crawler: Crawler) -> list[Any]:
    try:
        return await crawler.poll_all()
    finally:
        await crawler.fetcher.close()


@ingest_app.command("once")
def once(
    ctx: typer.Context,
    feeds: Annotated[Path | None, typer.Option(help="Feeds YAML (default: FINSENTRY_INGEST__FEEDS).")] = None,
    out: Annotated[Path | None, typer.Option(help="Append items to this JSON-lines file instead of Kafka.")] = None,
) -> None:
    """Poll every feed once, produce what is new, and exit (cron, tests)."""
    settings = _settings(ctx)
    specs = _feeds(settings, feeds)
    sink = _sink(settings, out)
    try:
        health = asyncio.run(_once(_crawler(settings, specs, sink)))
    finally:
        sink.close()
    _echo({
        "feeds": len(health),
        "items_new": sum(h.items_new for h in health),
        "errors": {h.name: h.last_error for h in health if h.status == "error"},
    })  # fmt: skip


async def _forever(crawler: Crawler) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    from ingest.crawler import READY_LINE

    sys.stdout.write(f"{READY_LINE} {len(crawler.feeds)} feeds\n")
    sys.stdout.flush()
    try:
        await crawler.run(stop)
    finally:
        await crawler.fetcher.close()


@ingest_app.command("run")
def run(
    ctx: typer.Context,
    feeds: Annotated[Path | None, typer.Option(help="Feeds YAML (default: FINSENTRY_INGEST__FEEDS).")] = None,
) -> None:
    """Crawl every feed at its interval until Ctrl-C or SIGTERM."""
    settings = _settings(ctx)
    specs = _feeds(settings, feeds)
    sink = _sink(settings, None)
    if settings.metrics.enabled:  # /metrics (polls, new items per feed) and /healthz
        from finsentry.metrics import MetricsServer

        MetricsServer(settings.metrics.address, settings.metrics.port).start()
    try:
        asyncio.run(_forever(_crawler(settings, specs, sink)))
    finally:
        sink.close()


@ingest_app.command("status")
def status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Each feed's health: status, last success, last error and its reason, items, next poll."""
    from finsentry.app.factory import make_crawler_state

    settings = _settings(ctx)
    health = {
        h.name: h.model_dump(mode="json", exclude={"schema_"}) for h in make_crawler_state(settings)[0].list_health()
    }
    if settings.ingest.feeds is not None:  # configured feeds never polled yet show up too
        for spec in _feeds(settings, None):
            health.setdefault(spec.name, {"name": spec.name, "url": spec.url, "status": "never"})
    rows = sorted(health.values(), key=lambda h: h["name"])
    if as_json:
        _echo(rows)
        return
    for h in rows:
        line = f"{h['name']:<24} {h['status']:<6} new {h.get('items_new', 0):>4} next {h.get('next_poll_at') or '-'}"
        if h["status"] == "error":
            line += f"  {h.get('last_error')}"
        sys.stdout.write(line + "\n")
