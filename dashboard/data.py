"""Cached reads: every page reads through these, so a refresh within the TTL costs nothing.

Each function takes the backends unhashed (``_b``) and their ``cache_key`` hashed, so two
installations in one process never share entries. Queries travel as JSON so that the cache key
is their exact content.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import streamlit as st

from dashboard.backends import Backends
from finsentry.protocols import BucketCount, Dimension, KeyStat, SearchQuery, TrendBucket, TrendQuery
from finsentry.schemas import Alert, AlertState, FeedHealth, Label, ScoredDoc

log = logging.getLogger(__name__)
TTL_S = 5.0  # a live view: stale by at most a refresh interval
SLOW_TTL_S = 30.0  # reads that walk a whole topic (dead letters) or a folder (model card)


class NotAvailable(Exception):
    """The backend cannot answer this read (not configured, not implemented, or down)."""


@st.cache_data(ttl=TTL_S, show_spinner=False)
def newest_time(_b: Backends, key: str) -> datetime | None:
    """Event time of the newest stored document (ranges end there, so replays show too)."""
    docs = _b.docs.search(SearchQuery(limit=1))
    return docs[0].event_time if docs else None


@st.cache_data(ttl=TTL_S, show_spinner=False)
def search(_b: Backends, key: str, query_json: str) -> list[ScoredDoc]:
    """``DocumentStore.search`` for a query given as its JSON."""
    return _b.docs.search(SearchQuery.model_validate_json(query_json))


@st.cache_data(ttl=TTL_S, show_spinner=False)
def get_doc(_b: Backends, key: str, doc_id: str) -> ScoredDoc | None:
    """One document."""
    return _b.docs.get(doc_id)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def trend(_b: Backends, key: str, query_json: str) -> list[TrendBucket]:
    """``DocumentStore.trend``; NotAvailable when the backend cannot aggregate."""
    try:
        return _b.docs.trend(TrendQuery.model_validate_json(query_json))
    except NotImplementedError as exc:
        raise NotAvailable(str(exc)) from exc


@st.cache_data(ttl=TTL_S, show_spinner=False)
def top_keys(
    _b: Backends, key: str, dimension: Dimension, since: datetime, until: datetime | None, min_count: int, limit: int
) -> list[KeyStat]:
    """``DocumentStore.top_keys``; NotAvailable when the backend cannot aggregate."""
    try:
        return _b.docs.top_keys(dimension, since, until, min_count, limit)
    except NotImplementedError as exc:
        raise NotAvailable(str(exc)) from exc


@st.cache_data(ttl=TTL_S, show_spinner=False)
def counts(_b: Backends, key: str, bucket_seconds: int, since: datetime | None) -> list[BucketCount]:
    """``DocumentStore.counts``: documents per bucket x topic x sentiment."""
    return _b.docs.counts(bucket_seconds, since)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def alerts(_b: Backends, key: str, state: AlertState | None, since: datetime | None, limit: int) -> list[Alert]:
    """The alert feed, newest first."""
    if _b.alerts is None:
        raise NotAvailable("no alert store is configured")
    return _b.alerts.list_alerts(state=state, since=since, limit=limit)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def alert(_b: Backends, key: str, alert_id: str) -> Alert | None:
    """One alert by id."""
    if _b.alerts is None:
        raise NotAvailable("no alert store is configured")
    return _b.alerts.get_alert(alert_id)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def feed_health(_b: Backends, key: str) -> list[FeedHealth]:
    """Every crawled feed's health."""
    if _b.feeds is None:
        raise NotAvailable("no crawler health store is configured")
    return _b.feeds.list_health()


def labels(b: Backends, since: datetime | None = None) -> list[Label]:
    """Corrections, oldest first. Not cached: an analyst expects their correction at once."""
    if b.labels is None:
        raise NotAvailable("no label store is configured")
    return b.labels.labels(since)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def kafka(_b: Backends, key: str) -> dict[str, Any]:
    """Records per topic, lag and dead letters; NotAvailable when the broker does not answer."""
    return _guarded(_b.pipeline.kafka, "broker")


@st.cache_data(ttl=SLOW_TTL_S, show_spinner=False)
def dead_letters(_b: Backends, key: str) -> dict[str, Any]:
    """Dead letters per stage."""
    return _guarded(_b.pipeline.dead_letters, "broker")


@st.cache_data(ttl=SLOW_TTL_S, show_spinner=False)
def model(_b: Backends, key: str) -> dict[str, Any]:
    """Current model version, metrics and card."""
    return _guarded(_b.pipeline.model, "model registry")


def _guarded(read: Any, what: str) -> dict[str, Any]:
    try:
        out: dict[str, Any] = read()
    except Exception as exc:  # a service being down is a state to show, not a crash
        log.warning("%s read failed: %s", what, exc)
        raise NotAvailable(f"{what} unavailable: {exc}") from exc
    return out


def time_range(b: Backends, span: timedelta | None) -> tuple[datetime | None, datetime]:
    """(since, until) of a range ending at the newest document (now when the store is empty)."""
    end = newest_time(b, b.cache_key) or b.clock()
    end = end + timedelta(microseconds=1)  # ``until`` is exclusive; the newest document belongs in
    return (end - span if span else None), end
