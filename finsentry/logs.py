"""One log format for every part (the supervisor adds the part's name in front)."""

from __future__ import annotations

import logging
import sys

# Client libraries that log every refused connection and retry: their own errors reach us as
# exceptions, which our code turns into one clear line.
_CHATTY = ("kafka", "aiokafka", "urllib3", "elastic_transport", "httpx")
# kafka-python logs each failed connect at ERROR and each backoff at WARNING: a command run with
# the broker down would print dozens of lines. Shown only when asked for with DEBUG.
_SILENT_UNLESS_DEBUG = ("kafka",)


def setup_logging(level: str) -> None:
    """Log to stderr with time, level and logger name; client-library noise only at DEBUG."""
    logging.basicConfig(
        level=level,
        stream=sys.stderr,
        force=True,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    for name in _CHATTY:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    if level != "DEBUG":
        for name in _SILENT_UNLESS_DEBUG:
            logging.getLogger(name).setLevel(logging.CRITICAL + 1)
