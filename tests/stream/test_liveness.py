"""The worker's stall detector, on a fake clock."""

from __future__ import annotations

from stream.liveness import Liveness


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_records_waiting_with_no_batch_finished_for_stall_s_is_a_stall() -> None:
    clock = Clock()
    live = Liveness(30.0, clock)
    assert not live.stalled(5)  # the wait starts now, not at the last batch long ago
    clock.now += 29
    assert not live.stalled(5)
    clock.now += 1
    assert live.stalled(5)


def test_no_lag_an_unknown_lag_or_a_batch_in_progress_is_never_a_stall() -> None:
    clock = Clock()
    live = Liveness(30.0, clock)
    for lag in (0, None):
        live.stalled(lag)
        clock.now += 100
        assert not live.stalled(lag)
    live.stalled(5)
    live.batch_started()
    clock.now += 100
    assert not live.stalled(5)  # a slow batch (a store retrying) is work, not a stall


def test_a_finished_batch_restarts_the_wait() -> None:
    clock = Clock()
    live = Liveness(30.0, clock)
    live.stalled(5)
    clock.now += 20
    live.batch_started()
    live.batch_done()
    assert not live.stalled(5)
    clock.now += 20
    assert not live.stalled(5)
    clock.now += 10
    assert live.stalled(5)
