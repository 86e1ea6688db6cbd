"""Micro-batching: every item once and in order, bounded batches, a window counted from the first arrival."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stream.batching import micro_batches


async def _items(values: list[int], gaps: list[float] | None = None, then_block: bool = False) -> AsyncIterator[int]:
    for n, value in enumerate(values):
        if gaps:
            await asyncio.sleep(gaps[n % len(gaps)])
        yield value
    if then_block:
        await asyncio.Event().wait()  # a live topic: no end, no more records


async def _collect(source: AsyncIterator[int], max_size: int, within: float) -> list[list[int]]:
    return [batch async for batch in micro_batches(source, max_size, within)]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(), max_size=60),
    st.integers(1, 9),
    st.lists(st.sampled_from([0.0, 0.0, 0.001, 0.003]), min_size=1, max_size=5),
)
def test_every_item_once_in_order_and_no_batch_over_the_limit(values: list[int], size: int, gaps: list[float]) -> None:
    batches = asyncio.run(_collect(_items(values, gaps), size, within=0.002))
    assert [v for b in batches for v in b] == values
    assert all(1 <= len(b) <= size for b in batches)


def test_a_backlog_fills_whole_batches_without_waiting_for_the_window() -> None:
    async def run() -> list[list[int]]:
        # a 60 s window: any wait for it would hit the 5 s bound below
        return await asyncio.wait_for(_collect(_items(list(range(10))), 4, within=60.0), 5)

    assert asyncio.run(run()) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_a_lone_record_is_yielded_after_the_window_while_the_source_stays_open() -> None:
    async def run() -> list[int]:
        batches = micro_batches(_items([7], then_block=True), 64, within=0.05)
        first = await asyncio.wait_for(anext(batches), 5)
        await batches.aclose()
        return first

    assert asyncio.run(run()) == [7]


def test_the_window_counts_from_the_first_arrival_not_from_the_request() -> None:
    now = [0.0]

    async def run() -> list[int]:
        batches = micro_batches(_items([0, 1, 2, 3, 4], then_block=True), 3, within=30.0, clock=lambda: now[0])
        assert await asyncio.wait_for(anext(batches), 5) == [0, 1, 2]  # full: no wait
        await asyncio.sleep(0.05)  # records 3 and 4 arrive at t=0 while that batch is processed ...
        now[0] = 31.0  # ... which took longer than the window
        second = await asyncio.wait_for(anext(batches), 5)  # so they go at once: no second window
        await batches.aclose()
        return second

    assert asyncio.run(run()) == [3, 4]


def test_an_error_of_the_source_is_raised_after_the_items_before_it() -> None:
    async def failing() -> AsyncIterator[int]:
        yield 1
        yield 2
        raise ConnectionError("broker gone")

    async def run() -> list[list[int]]:
        seen: list[list[int]] = []
        with pytest.raises(ConnectionError, match="broker gone"):
            async for batch in micro_batches(failing(), 64, within=0.01):
                seen.append(batch)
        return seen

    assert [v for b in asyncio.run(run()) for v in b] == [1, 2]


def test_closing_the_batches_stops_reading_the_source() -> None:
    closed = asyncio.Event()

    async def source() -> AsyncIterator[int]:
        try:
            n = 0
            while True:
                n += 1
                yield n
        finally:
            closed.set()

    async def run() -> bool:
        batches = micro_batches(source(), 3, within=0.01)
        assert len(await anext(batches)) == 3
        await batches.aclose()
        await asyncio.wait_for(closed.wait(), 5)
        return closed.is_set()

    assert asyncio.run(run())
