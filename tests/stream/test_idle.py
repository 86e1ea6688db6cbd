"""An empty fetch answered at once is followed by a wait; one with records, or a long-polled one, is not."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from stream import idle


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _run(added: bool, took: float, monkeypatch: pytest.MonkeyPatch) -> tuple[bool, list[float]]:
    clock, slept = _Clock(), []

    async def fetch(_self: Any, *_args: Any) -> bool:
        clock.now += took  # how long the broker took to answer
        return added

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(idle.asyncio, "sleep", sleep)
    wrapped = idle.held(fetch, 0.05, clock)
    return asyncio.run(wrapped(object(), "assignment", 1, "request")), slept


def test_an_empty_answer_at_once_waits_out_the_rest(monkeypatch: pytest.MonkeyPatch) -> None:
    added, slept = _run(False, 0.01, monkeypatch)
    assert added is False and slept == [pytest.approx(0.04)]


def test_records_or_a_long_polled_empty_answer_go_on_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _run(True, 0.0, monkeypatch) == (True, [])
    assert _run(False, 0.5, monkeypatch) == (False, [])  # Kafka held the fetch: no extra wait


def test_the_fetcher_is_patched_once() -> None:
    from aiokafka.consumer.fetcher import Fetcher

    assert idle.hold_empty_fetches() and idle.hold_empty_fetches()
    patched = Fetcher._proc_fetch_request
    assert getattr(patched, idle._MARK)
    assert idle.hold_empty_fetches() and Fetcher._proc_fetch_request is patched  # not wrapped twice


def test_a_wait_cancelled_by_close_ends_like_a_cancelled_fetch() -> None:
    async def fetch(_self: Any, *_args: Any) -> bool:
        return False

    async def run() -> bool:
        task = asyncio.create_task(idle.held(fetch, 30.0)(object()))
        await asyncio.sleep(0.01)
        task.cancel()  # aiokafka's fetcher cancels its requests on close; they must end, not raise
        return await task

    assert asyncio.run(run()) is False
