"""Micro-batches whose waiting window starts when their first record arrives.

Faust's ``take(max, within)`` waits ``within`` seconds from the moment the agent asks for the next
batch: a record that arrived while the previous batch was being scored has already waited that
long, and then waits a full window more. Here the window is measured from the arrival of the
batch's first record, and whatever is already waiting is taken at once, so under a backlog batches
fill to ``max_size`` without any wait and under light load no record waits longer than
``within`` plus the batch before it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class _Arrived(Generic[T]):
    at: float
    item: T


@dataclass(frozen=True)
class _Ended:
    error: BaseException | None


async def micro_batches(
    source: AsyncIterator[T],
    max_size: int,
    within: float,
    clock: Callable[[], float] = time.monotonic,
) -> AsyncGenerator[list[T], None]:
    """Group ``source`` into lists of at most ``max_size``, each yielded ``within`` s after its first item.

    A background task reads ``source`` into a queue of ``max_size`` (while a batch is processed, the
    next one gathers; beyond that the source waits, so memory stays bounded). An error of the source
    is raised here after the items read before it have been yielded.

    Args:
        source: the items, e.g. a Faust stream's events.
        max_size: the most items a batch holds.
        within: the longest a batch's first item waits for company.
        clock: seconds, monotonic (tests pass their own).

    """
    queue: asyncio.Queue[_Arrived[T] | _Ended] = asyncio.Queue(maxsize=max_size)

    async def pump() -> None:
        try:
            async for item in source:
                await queue.put(_Arrived(clock(), item))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - handed to the consumer, which raises it
            await queue.put(_Ended(exc))
            return
        await queue.put(_Ended(None))

    task = asyncio.create_task(pump())
    try:
        while True:
            first = await queue.get()
            if isinstance(first, _Ended):
                _raise(first)
                return
            batch, end = await _fill(queue, first, max_size, within, clock)
            yield batch
            if end is not None:
                _raise(end)
                return
    finally:
        task.cancel()


async def _fill(
    queue: asyncio.Queue[_Arrived[T] | _Ended],
    first: _Arrived[T],
    max_size: int,
    within: float,
    clock: Callable[[], float],
) -> tuple[list[T], _Ended | None]:
    """The batch started by ``first``: what is queued at once, then what arrives before its deadline."""
    batch, deadline = [first.item], first.at + within
    while len(batch) < max_size:
        try:
            nxt = queue.get_nowait()
        except asyncio.QueueEmpty:
            remaining = deadline - clock()
            if remaining <= 0:
                break
            try:
                nxt = await asyncio.wait_for(queue.get(), remaining)
            except TimeoutError:
                break
        if isinstance(nxt, _Ended):
            return batch, nxt
        batch.append(nxt.item)
    return batch, None


def _raise(end: _Ended) -> None:
    if end.error is not None:
        raise end.error
