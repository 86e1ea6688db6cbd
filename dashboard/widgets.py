"""Inputs several pages share; values live in session state under fixed keys, so they survive refreshes."""

from __future__ import annotations

from datetime import timedelta

import streamlit as st

RANGES: dict[str, timedelta | None] = {
    "Last hour": timedelta(hours=1),
    "Last 6 hours": timedelta(hours=6),
    "Last 24 hours": timedelta(days=1),
    "Last 7 days": timedelta(days=7),
    "Last 30 days": timedelta(days=30),
    "All time": None,
}
ANY = "(any)"


def range_select(key: str, default: str = "Last 24 hours") -> timedelta | None:
    """A time range ending at the newest document."""
    names = list(RANGES)
    choice = st.selectbox("Time range", names, index=names.index(default), key=key)
    return RANGES[str(choice)]


def choice(label: str, options: tuple[str, ...], key: str) -> str | None:
    """A select with an "(any)" first option; None when it is chosen."""
    value = st.selectbox(label, (ANY, *options), key=key)
    return None if value in (None, ANY) else str(value)


def text_filter(label: str, key: str, upper: bool = False) -> str | None:
    """A free-text filter; None when blank."""
    value = st.text_input(label, key=key, max_chars=200).strip()
    if upper:
        value = value.upper().lstrip("$")
    return value or None
