"""An idle worker that does not spin: aiokafka waits a moment after an empty fetch answered at once.

Kafka holds a fetch with nothing new for up to ``fetch.max.wait.ms``; noida-db, the embedded broker
of ``finsentry up``, answers it at once, and aiokafka then asks again at once: an idle worker kept a
core busy. Each fetch that brought no records and came back sooner than
:data:`finsentry.broker.IDLE_POLL_S` is now followed by a wait for the rest of that time. Against
Kafka an empty answer already took the broker's wait, so nothing changes there.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from finsentry.broker import IDLE_POLL_S

log = logging.getLogger(__name__)
_MARK = "_finsentry_holds_empty_fetches"


def hold_empty_fetches(seconds: float = IDLE_POLL_S) -> bool:
    """Patch aiokafka's fetcher once per process; False when its internals are not the expected ones."""
    from aiokafka.consumer.fetcher import Fetcher

    original = getattr(Fetcher, "_proc_fetch_request", None)
    if original is None:
        log.warning("aiokafka's fetcher has no _proc_fetch_request: an idle worker may spin on noida-db")
        return False
    if getattr(original, _MARK, False):
        return True
    Fetcher._proc_fetch_request = held(original, seconds)
    return True


def held(
    fetch: Callable[..., Awaitable[bool]], seconds: float, clock: Callable[[], float] = time.monotonic
) -> Callable[..., Coroutine[Any, Any, bool]]:
    """``fetch`` (which returns whether it added records), waiting out ``seconds`` when it added none."""

    async def proc_fetch_request(self: Any, *args: Any) -> bool:
        started = clock()
        added = await fetch(self, *args)
        left = seconds - (clock() - started)
        if not added and left > 0:
            try:
                await asyncio.sleep(left)
            except asyncio.CancelledError:
                return False  # what aiokafka's own fetch returns when closed or unassigned mid-fetch
        return added

    setattr(proc_fetch_request, _MARK, True)
    return proc_fetch_request
