"""``python -m tests.stream.faulty_worker MARKER [crash]``: the real worker, its classifier made to fail on one input.

A classifier that raises an unexpected exception on one record, or kills the process outright,
cannot be caused with a working model, so this entry wraps the configured one (the fault-injecting
wrapper the tests need) and otherwise runs exactly what ``finsentry worker`` runs: settings,
backends, Faust app.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from finsentry.app.factory import make_classifier, make_store
from finsentry.app.ops import bootstrap_of
from finsentry.logs import setup_logging
from finsentry.protocols import Classifier
from finsentry.schemas import Prediction
from finsentry.settings import Settings
from stream.worker import run_worker

CRASH_EXIT = 70


class FaultyClassifier:
    """On a batch holding a text with ``marker``: raises ``ZeroDivisionError``, or dies (``crash``)."""

    def __init__(self, inner: Classifier, marker: str, crash: bool) -> None:
        self.inner, self.marker, self.crash = inner, marker, crash

    async def classify(self, texts: Sequence[str]) -> list[Prediction]:
        if any(self.marker in t for t in texts):
            if self.crash:
                os._exit(CRASH_EXIT)  # as a segfault in native code would: no exception, no cleanup
            raise ZeroDivisionError(f"injected fault on {self.marker}")
        return await self.inner.classify(texts)

    async def close(self) -> None:
        await self.inner.close()


def main() -> None:
    marker, crash = sys.argv[1], sys.argv[2:] == ["crash"]
    settings = Settings()
    setup_logging(settings.log_level)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.argv = [sys.argv[0], "worker"]  # Faust parses argv
    classifier = FaultyClassifier(make_classifier(settings), marker, crash)
    run_worker(settings, bootstrap_of(settings), classifier, make_store(settings))


if __name__ == "__main__":
    main()
