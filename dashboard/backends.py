"""What the dashboard reads from, handed in by the composition root (never built here)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from finsentry.protocols import AlertStore, DocumentStore, FeedHealthStore, LabelStore
from finsentry.schemas import utcnow
from finsentry.settings import DashboardSettings


def _not_configured() -> dict[str, Any]:
    raise LookupError("not configured")


@dataclass(frozen=True)
class PipelineReads:
    """The read functions ``finsentry status``/``stats`` use, bound to one installation's settings.

    Each returns a JSON-like dict and may raise when its service is down; pages show that as a warning.

    Attributes:
        kafka: records per topic, consumer lag, dead-letter total (``ops.kafka_counts``).
        dead_letters: dead letters per stage (``ops.dead_letters_by_stage``).
        model: current version, its metrics and card (``ops.model_info``).

    """

    kafka: Callable[[], dict[str, Any]] = _not_configured
    dead_letters: Callable[[], dict[str, Any]] = _not_configured
    model: Callable[[], dict[str, Any]] = _not_configured


@dataclass(frozen=True)
class Backends:
    """Stores and read functions for one dashboard process.

    A store that is ``None`` is not configured for this installation: its page shows an empty state.

    Attributes:
        docs: scored documents.
        labels: analysts' corrections.
        alerts: the alert feed.
        feeds: crawler health per feed.
        pipeline: pipeline and model reads.
        settings: the dashboard's settings group.
        sentiments: the labels the sentiment head knows (Feedback choices).
        topics: the labels the topic head knows.
        local_user: who corrects when no login is required (the OS user).
        clock: the current time, injected so tests can move it.
        cache_key: separates the short-TTL caches of two backends in one process.

    """

    docs: DocumentStore
    settings: DashboardSettings = field(default_factory=DashboardSettings)
    labels: LabelStore | None = None
    alerts: AlertStore | None = None
    feeds: FeedHealthStore | None = None
    pipeline: PipelineReads = field(default_factory=PipelineReads)
    sentiments: tuple[str, ...] = ("negative", "neutral", "positive")
    topics: tuple[str, ...] = ()
    local_user: str = "analyst"
    clock: Callable[[], datetime] = utcnow
    cache_key: str = field(default_factory=lambda: uuid.uuid4().hex)


@dataclass(frozen=True)
class PageContext:
    """What a page gets: the backends and who is looking."""

    backends: Backends
    user: str
