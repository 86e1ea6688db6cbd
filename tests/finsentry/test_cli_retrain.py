from __future__ import annotations

from datetime import UTC, datetime

import pytest
import typer
from hypothesis import given
from hypothesis import strategies as st

from finsentry.app.cli_retrain import _since


@given(st.text(max_size=40))
def test_since_is_an_aware_time_or_a_bad_parameter(value: str) -> None:
    try:
        when = _since(value)
    except typer.BadParameter:
        return
    assert when.tzinfo is not None


def test_since_needs_a_timezone() -> None:
    assert _since("2026-11-01T00:00:00+00:00") == datetime(2026, 11, 1, tzinfo=UTC)
    with pytest.raises(typer.BadParameter, match="timezone"):
        _since("2026-11-01T00:00:00")
    with pytest.raises(typer.BadParameter, match="not an ISO time"):
        _since("yesterday")
