"""The status line of `finsentry up`: every change at once, an unchanged state once a minute at most."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from finsentry.app.up import StatusGate


def test_idle_pipeline_prints_once_a_minute() -> None:
    gate = StatusGate(idle_every=60)
    printed = [t for t in range(0, 300, 5) if gate(("raw", 443), f"line {t}", float(t))]
    assert printed == [0, 60, 120, 180, 240]


def test_a_change_is_printed_at_once() -> None:
    gate = StatusGate(idle_every=60)
    assert gate(1, "a", 0.0) == "a"
    assert gate(1, "a", 5.0) is None
    assert gate(2, "b", 10.0) == "b"
    assert gate(2, "b", 15.0) is None
    assert gate(2, "b", 70.0) == "b"


@given(st.lists(st.tuples(st.integers(0, 3), st.floats(0, 100)), max_size=60))
def test_printed_iff_changed_or_a_minute_passed(steps: list[tuple[int, float]]) -> None:
    gate = StatusGate(idle_every=60)
    now, last_state, last_printed = 0.0, None, float("-inf")
    for state, dt in steps:
        now += dt
        printed = gate(state, "x", now) is not None
        assert printed == (state != last_state or now - last_printed >= 60)
        if printed:
            last_state, last_printed = state, now
