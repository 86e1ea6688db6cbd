"""Polite HTTP for the crawler: timeouts, conditional GET, per-host limits, robots.txt, retries, size cap.

Every failure is a :class:`~ingest.parse.FeedError` whose message is the reason a person reads in
the feed's health.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from stat import S_ISREG
from urllib.parse import unquote, urljoin, urlsplit
from urllib.robotparser import RobotFileParser

import httpx

from finsentry.settings import IngestSettings
from ingest.parse import FeedError

log = logging.getLogger(__name__)
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_RETRY = frozenset({408, 425, 429, 500, 502, 503, 504})
ROBOTS_TTL_S = 86_400.0


class RetryLater(FeedError):
    """The server asked for more patience than one poll may wait (Retry-After beyond the cap)."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class Fetched:
    """One successful answer: 200 with its body, or 304 (``not_modified``) with none."""

    url: str
    not_modified: bool
    content: bytes = b""
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None


def retry_after_s(value: str | None, now: datetime) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


class _HostGate:
    """At most ``concurrency`` requests to one host at a time, starts at least ``interval`` apart."""

    def __init__(self, concurrency: int, interval: float, clock: Callable[[], float]) -> None:
        self._slots = asyncio.Semaphore(concurrency)
        self._interval = interval
        self._clock = clock
        self._next = 0.0
        self._turn = asyncio.Lock()

    async def __aenter__(self) -> None:
        await self._slots.acquire()
        async with self._turn:
            wait = self._next - self._clock()
            if wait > 0:
                await asyncio.sleep(wait)
            self._next = self._clock() + self._interval

    async def __aexit__(self, *exc: object) -> None:
        self._slots.release()


class Fetcher:
    """Fetches feeds and pages politely; one instance per crawler, shared by every feed.

    Args:
        settings: the ``ingest`` settings (timeouts, limits, User-Agent).
        sleep: how to wait between retries (tests pass a recorder).
        rand: jitter source in [0, 1).

    """

    def __init__(
        self,
        settings: IngestSettings,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._s = settings
        timeout = httpx.Timeout(settings.timeout_s, connect=settings.connect_timeout_s)
        self._client = httpx.AsyncClient(
            timeout=timeout, follow_redirects=False, headers={"User-Agent": settings.user_agent}, trust_env=False
        )
        self._sleep = sleep
        self._rand = rand
        self._gates: dict[str, _HostGate] = {}
        self._robots: dict[str, tuple[float, RobotFileParser | None]] = {}

    async def close(self) -> None:
        """Close connections."""
        await self._client.aclose()

    def _gate(self, url: str) -> _HostGate:
        host = urlsplit(url).netloc.lower()
        if host not in self._gates:
            self._gates[host] = _HostGate(self._s.per_host_concurrency, self._s.per_host_interval_s, time.monotonic)
        return self._gates[host]

    async def fetch(self, url: str, etag: str | None = None, last_modified: str | None = None) -> Fetched:
        """GET ``url`` following at most ``max_redirects`` redirects, with retries; or read a ``file:`` URL.

        Raises:
            FeedError: the reason (robots, HTTP status, timeout, size, redirects).
            RetryLater: 429/503 with a Retry-After longer than ``max_backoff_s``.

        """
        if urlsplit(url).scheme == "file":
            return await asyncio.to_thread(self._read_file, url, last_modified)
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        visited = [url]
        while True:
            await self._check_robots(url)
            response = await self._with_retries(url, headers)
            if response.status_code not in _REDIRECTS:
                return self._result(url, response)
            location = response.headers.get("location")
            if not location:
                raise FeedError(f"HTTP {response.status_code} redirect without a Location")
            url = urljoin(url, location)
            if url in visited:
                raise FeedError(f"redirect loop: {' -> '.join(visited[-3:])} -> {url}")
            if len(visited) > self._s.max_redirects:
                raise FeedError(f"too many redirects (more than {self._s.max_redirects})")
            if urlsplit(url).scheme not in ("http", "https"):
                raise FeedError(f"redirect to a non-HTTP URL: {url[:200]}")
            visited.append(url)

    def _read_file(self, url: str, last_modified: str | None) -> Fetched:
        """A local feed file (``file:///abs/path``): its mtime stands in for Last-Modified."""
        path = Path(unquote(urlsplit(url).path))
        try:
            stat = path.stat()
            changed = email.utils.formatdate(stat.st_mtime, usegmt=True)
            if last_modified == changed:
                return Fetched(url, True, last_modified=changed)
            if not S_ISREG(stat.st_mode):  # a device or a pipe would never end (or never start)
                raise FeedError(f"{path} is not a regular file")
            with path.open("rb") as fh:  # the cap holds even if the file grew since the stat
                content = fh.read(self._s.max_bytes + 1)
            if len(content) > self._s.max_bytes:
                raise FeedError(f"file too large: more than the {self._s.max_bytes}-byte cap")
        except OSError as exc:
            raise FeedError(f"cannot read {path}: {exc.strerror or exc}") from None
        return Fetched(url, False, content, None, None, changed)

    def _result(self, url: str, response: _Answer) -> Fetched:
        if response.status_code == 304:
            return Fetched(
                url, True, etag=response.headers.get("etag"), last_modified=response.headers.get("last-modified")
            )
        return Fetched(
            url,
            False,
            response.content,
            response.headers.get("content-type"),
            response.headers.get("etag"),
            response.headers.get("last-modified"),
        )

    async def _with_retries(self, url: str, headers: dict[str, str]) -> _Answer:
        delay = self._s.backoff_s
        for attempt in range(self._s.retries + 1):
            outcome = await self._attempt(url, headers, attempt)
            if isinstance(outcome, _Answer):
                return outcome
            error, wait = outcome
            if attempt == self._s.retries:
                raise error
            if wait is None:
                wait = min(delay, self._s.max_backoff_s) * (0.5 + self._rand())
                delay *= 2
            log.info("%s: %s; retry %d/%d in %.1fs", url, error, attempt + 1, self._s.retries, wait)
            await self._sleep(wait)
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _attempt(
        self, url: str, headers: dict[str, str], attempt: int
    ) -> _Answer | tuple[FeedError, float | None]:
        """An answer to use, or the error with the server's requested wait (None: back off)."""
        try:
            answer = await self._once(url, headers)
        except httpx.TimeoutException as exc:
            return FeedError(f"timed out ({type(exc).__name__}) after {self._s.timeout_s:g}s"), None
        except httpx.TransportError as exc:
            return FeedError(f"network error: {type(exc).__name__}: {str(exc)[:200]}"), None
        status = answer.status_code
        if status < 400:
            return answer
        if status not in _RETRY:
            raise FeedError(f"HTTP {status} {answer.reason}")
        wait = retry_after_s(answer.headers.get("retry-after"), datetime.now(UTC))
        if wait is not None and wait > self._s.max_backoff_s:
            raise RetryLater(f"HTTP {status} {answer.reason}; Retry-After {wait:.0f}s", wait)
        return FeedError(f"HTTP {status} {answer.reason} after {attempt + 1} attempts"), wait

    async def _once(self, url: str, headers: dict[str, str]) -> _Answer:
        cap = self._s.max_bytes
        async with self._gate(url):
            try:
                async with asyncio.timeout(self._s.timeout_s * 3):  # a server trickling bytes forever
                    async with self._client.stream("GET", url, headers=headers) as response:
                        declared = response.headers.get("content-length", "")
                        if declared.isdigit() and int(declared) > cap:
                            raise FeedError(f"response too large: {int(declared)} bytes > cap {cap}")
                        body = bytearray()
                        async for chunk in response.aiter_bytes():
                            body += chunk
                            if len(body) > cap:
                                raise FeedError(f"response too large: more than the {cap}-byte cap")
                        return _Answer(response.status_code, response.reason_phrase, response.headers, bytes(body))
            except TimeoutError:
                raise httpx.ReadTimeout("whole response took too long") from None

    async def _check_robots(self, url: str) -> None:
        if not self._s.robots:
            return
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        cached = self._robots.get(origin)
        if cached is None or time.monotonic() - cached[0] > ROBOTS_TTL_S:
            cached = (time.monotonic(), await self._load_robots(origin))
            self._robots[origin] = cached
        rules = cached[1]
        if rules is not None and not rules.can_fetch(self._s.user_agent, url):
            raise FeedError(f"disallowed by {origin}/robots.txt")

    async def _load_robots(self, origin: str) -> RobotFileParser | None:
        """The host's rules; None (everything allowed) when it has none (4xx) or answers garbage."""
        try:
            answer = await self._once(f"{origin}/robots.txt", {})
        except (httpx.HTTPError, FeedError) as exc:
            log.info("robots.txt of %s unavailable (%s); fetching as allowed", origin, exc)
            return None
        if answer.status_code >= 400 or answer.status_code in _REDIRECTS:
            return None
        rules = RobotFileParser()
        rules.parse(answer.content.decode("utf-8", "replace").splitlines())
        return rules


@dataclass(frozen=True)
class _Answer:
    status_code: int
    reason: str
    headers: httpx.Headers
    content: bytes
