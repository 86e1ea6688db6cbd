from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from typing import Any

import pytest

from finsentry.settings import IngestSettings
from ingest.fetch import Fetcher, RetryLater, retry_after_s
from ingest.parse import FeedError
from tests.ingest.conftest import FeedServer, Route


def _fetcher(sleeps: list[float] | None = None, **overrides: Any) -> Fetcher:
    base: dict[str, Any] = {"timeout_s": 2.0, "connect_timeout_s": 1.0, "per_host_interval_s": 0.0, "backoff_s": 0.5}
    settings = IngestSettings(**{**base, **overrides})
    record = sleeps if sleeps is not None else []

    async def sleep(seconds: float) -> None:
        record.append(seconds)

    return Fetcher(settings, sleep=sleep, rand=lambda: 0.5)


def _run(fetcher: Fetcher, coro: Any) -> Any:
    async def go() -> Any:
        try:
            return await coro
        finally:
            await fetcher.close()

    return asyncio.run(go())


def test_user_agent_and_conditional_get(feed_server: FeedServer, fixture_bytes: Callable[[str], bytes]) -> None:
    feed_server.routes["/rss"] = Route(fixture_bytes("rss20.xml"), etag='"v1"')
    f = _fetcher(user_agent="finsentry-test/1.0")

    async def two() -> tuple[Any, Any]:
        first = await f.fetch(feed_server.url("/rss"))
        return first, await f.fetch(feed_server.url("/rss"), etag=first.etag)

    first, second = _run(f, two())
    assert not first.not_modified and first.content.startswith(b"<?xml") and first.etag == '"v1"'
    assert second.not_modified and second.content == b""
    feed_hits = [h for h in feed_server.hits if h.path == "/rss"]
    assert feed_hits[1].headers["If-None-Match"] == '"v1"'
    assert all(h.headers["User-Agent"] == "finsentry-test/1.0" for h in feed_server.hits)


@pytest.mark.parametrize("status", [404, 410, 403])
def test_client_errors_are_not_retried(feed_server: FeedServer, status: int) -> None:
    feed_server.routes["/gone"] = Route(statuses=[status])
    f = _fetcher()
    with pytest.raises(FeedError, match=f"HTTP {status}"):
        _run(f, f.fetch(feed_server.url("/gone")))
    assert feed_server.routes["/gone"].hits == 1


def test_429_honours_retry_after_then_succeeds(feed_server: FeedServer) -> None:
    feed_server.routes["/busy"] = Route(b"<rss/>", statuses=[429, 200], headers={"Retry-After": "7"})
    sleeps: list[float] = []
    f = _fetcher(sleeps)
    assert _run(f, f.fetch(feed_server.url("/busy"))).content == b"<rss/>"
    assert sleeps == [7.0]


def test_5xx_backs_off_exponentially_then_gives_up(feed_server: FeedServer) -> None:
    feed_server.routes["/down"] = Route(statuses=[503, 502, 500, 500])
    sleeps: list[float] = []
    f = _fetcher(sleeps, retries=3)
    with pytest.raises(FeedError, match=r"HTTP 500 .* after 4 attempts"):
        _run(f, f.fetch(feed_server.url("/down")))
    assert sleeps == [0.5, 1.0, 2.0]  # base 0.5 doubling, jitter factor 0.5 + 0.5
    assert feed_server.routes["/down"].hits == 4


def test_long_retry_after_skips_the_poll(feed_server: FeedServer) -> None:
    feed_server.routes["/later"] = Route(statuses=[429], headers={"Retry-After": "3600"})
    f = _fetcher(max_backoff_s=60)
    with pytest.raises(RetryLater) as err:
        _run(f, f.fetch(feed_server.url("/later")))
    assert err.value.retry_after_s == 3600


def test_stall_times_out(feed_server: FeedServer) -> None:
    feed_server.routes["/stall"] = Route(b"<rss/>", stall_s=5.0)
    f = _fetcher(timeout_s=0.3, retries=0)
    started = time.monotonic()
    with pytest.raises(FeedError, match="timed out"):
        _run(f, f.fetch(feed_server.url("/stall")))
    assert time.monotonic() - started < 2.0


def test_redirects_followed_loops_and_chains_refused(feed_server: FeedServer) -> None:
    feed_server.routes["/old"] = Route(statuses=[301], headers={"Location": "/new"})
    feed_server.routes["/new"] = Route(b"<rss/>")
    feed_server.routes["/a"] = Route(statuses=[302], headers={"Location": "/b"})
    feed_server.routes["/b"] = Route(statuses=[302], headers={"Location": "/a"})
    for i in range(10):
        feed_server.routes[f"/r{i}"] = Route(statuses=[307], headers={"Location": f"/r{i + 1}"})
    f = _fetcher(max_redirects=3)

    async def go() -> Any:
        moved = await f.fetch(feed_server.url("/old"))
        assert moved.url == feed_server.url("/new") and moved.content == b"<rss/>"
        with pytest.raises(FeedError, match="redirect loop"):
            await f.fetch(feed_server.url("/a"))
        with pytest.raises(FeedError, match="too many redirects"):
            await f.fetch(feed_server.url("/r0"))

    _run(f, go())


def test_size_cap_streamed_and_declared(feed_server: FeedServer) -> None:
    feed_server.routes["/huge"] = Route(chunked_bytes=10 * 1024 * 1024)
    feed_server.routes["/declared"] = Route(b"x" * 3000)
    f = _fetcher(max_bytes=2048)

    async def go() -> None:
        with pytest.raises(FeedError, match="too large"):
            await f.fetch(feed_server.url("/huge"))
        with pytest.raises(FeedError, match="3000 bytes > cap 2048"):
            await f.fetch(feed_server.url("/declared"))

    _run(f, go())


def test_robots_txt_is_honoured(feed_server: FeedServer) -> None:
    feed_server.routes["/robots.txt"] = Route(b"User-agent: *\nDisallow: /private/\n", content_type="text/plain")
    feed_server.routes["/private/rss"] = Route(b"<rss/>")
    feed_server.routes["/public/rss"] = Route(b"<rss/>")
    f = _fetcher()

    async def go() -> None:
        with pytest.raises(FeedError, match=r"robots\.txt"):
            await f.fetch(feed_server.url("/private/rss"))
        assert (await f.fetch(feed_server.url("/public/rss"))).content == b"<rss/>"

    _run(f, go())
    assert feed_server.routes["/private/rss"].hits == 0
    assert [h.path for h in feed_server.hits].count("/robots.txt") == 1  # cached per host


def test_per_host_rate_limit_spaces_requests(feed_server: FeedServer) -> None:
    for i in range(3):
        feed_server.routes[f"/f{i}"] = Route(b"<rss/>")
    f = _fetcher(per_host_interval_s=0.3, robots=False)

    async def go() -> None:
        await asyncio.gather(*(f.fetch(feed_server.url(f"/f{i}")) for i in range(3)))

    _run(f, go())
    times = sorted(h.at for h in feed_server.hits)
    assert all(b - a >= 0.25 for a, b in itertools.pairwise(times))


def test_retry_after_forms() -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 11, 20, 12, tzinfo=UTC)
    assert retry_after_s("120", now) == 120
    assert retry_after_s("Fri, 20 Nov 2026 12:01:00 GMT", now) == 60
    assert retry_after_s("soon", now) is None and retry_after_s(None, now) is None
