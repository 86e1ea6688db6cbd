"""Entry point of one worker process (``finsentry worker``)."""

from __future__ import annotations

import faust

from finsentry.factory import make_classifier, make_store
from finsentry.settings import Settings
from stream.app import create_app

READY_MARKER = "[^Worker]: Ready"  # Faust logs this once partitions are assigned and the agent runs


def run_worker(settings: Settings, bootstrap: str) -> None:
    """Build backends from settings and run the Faust worker until SIGTERM/SIGINT."""
    classifier = make_classifier(settings)
    store = make_store(settings)
    app = create_app(settings, bootstrap, classifier, store)
    worker = faust.Worker(app, loglevel=settings.log_level, quiet=True)
    worker.execute_from_commandline()
