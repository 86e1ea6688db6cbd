"""One log format for every part (the supervisor adds the part's name in front)."""

from __future__ import annotations

import logging
import sys


def setup_logging(level: str) -> None:
    """Log to stderr with time, level and logger name."""
    logging.basicConfig(
        level=level,
        stream=sys.stderr,
        force=True,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    for noisy in ("kafka", "aiokafka", "urllib3", "elastic_transport", "httpx"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
