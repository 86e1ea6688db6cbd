"""Entry point of one worker process (``finsentry worker``); backends come from the composition root."""

from __future__ import annotations

import faust

from finsentry.protocols import Classifier, DocumentStore, StoryIndex
from finsentry.settings import Settings
from stream.app import create_app

READY_MARKER = "[^Worker]: Ready"  # Faust logs this once partitions are assigned and the agent runs


def run_worker(
    settings: Settings,
    bootstrap: str,
    classifier: Classifier,
    store: DocumentStore,
    stories: StoryIndex | None = None,
) -> None:
    """Run the Faust worker with the given backends until SIGTERM/SIGINT."""
    app = create_app(settings, bootstrap, classifier, store, stories)
    worker = faust.Worker(app, loglevel=settings.log_level, quiet=True)
    worker.execute_from_commandline()
