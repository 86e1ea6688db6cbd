"""The dashboard's entry script: ``finsentry dashboard`` runs ``streamlit run`` on this file.

Streamlit executes it on every rerun; the backends are built once per process (``cache_resource``)
from the one Settings object, and handed to the dashboard part.
"""

from __future__ import annotations

import functools
import getpass
import logging

import streamlit as st

from dashboard.app import render
from dashboard.backends import Backends, PipelineReads
from finsentry.app import factory, ops
from finsentry.logs import setup_logging
from finsentry.protocols import FeedHealthStore
from finsentry.settings import Settings

log = logging.getLogger(__name__)


def _optional_store(name: str, settings: Settings) -> FeedHealthStore | None:
    """A store whose factory function may not exist in this build: its page then shows an empty state."""
    make = getattr(factory, name, None)
    if make is None:
        return None
    try:
        store: FeedHealthStore | None = make(settings)
    except Exception as exc:  # noqa: BLE001 - one missing store must not take the whole dashboard down
        log.warning("%s failed: %s", name, exc)
        return None
    return store


def build_backends(settings: Settings) -> Backends:
    """Every store and read function the dashboard uses, from the settings."""
    from models.labels import SENTIMENTS, TOPICS

    return Backends(
        docs=factory.make_store(settings),
        settings=settings.dashboard,
        labels=factory.make_label_store(settings),
        alerts=factory.make_alert_stores(settings).alerts,
        feeds=_optional_store("make_feed_health_store", settings),
        pipeline=PipelineReads(
            kafka=functools.partial(ops.kafka_counts, settings),
            dead_letters=functools.partial(ops.dead_letters_by_stage, settings),
            model=functools.partial(ops.model_info, settings),
        ),
        sentiments=SENTIMENTS,
        topics=TOPICS,
        local_user=getpass.getuser(),
    )


@st.cache_resource
def _backends() -> Backends:
    settings = Settings()
    setup_logging(settings.log_level)
    return build_backends(settings)


def main() -> None:
    """One script run: draw the app with this process's backends."""
    render(_backends())


if __name__ == "__main__":
    main()
