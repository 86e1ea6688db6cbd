"""Coverage-guided fuzz targets (atheris) for the parsers that take outside bytes.

Each target is a property that must hold for any input; a violation is a crash, which
libFuzzer reports with the input that caused it. Run one directly for as long as you like:

    python -m tests.fuzz.targets feed -atheris_runs=200000 /tmp/corpus tests/ingest/fixtures

The test suite runs each for a bounded number of inputs (``tests/fuzz/test_atheris.py``).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from datetime import UTC, datetime

import atheris

with atheris.instrument_imports(include=["ingest", "stream", "finsentry"]):
    from finsentry.errors import InvalidRecord
    from ingest.parse import FeedError, _feed_entry, parse_feed
    from ingest.xmlfeed import fast_entries
    from stream.process import decode_item

import feedparser

FETCHED = datetime(2026, 11, 21, tzinfo=UTC)
CONTENT_TYPES = [None, "application/rss+xml", "text/xml; charset=utf-8", "application/atom+xml", "text/html"]
MAX_RECORD_BYTES = 64 * 1024


def feed(data: bytes) -> None:
    """A feed body: the fast reader agrees with feedparser whenever it takes a document, and
    ``parse_feed`` fails only with ``FeedError``."""
    fdp = atheris.FuzzedDataProvider(data)
    content_type = CONTENT_TYPES[fdp.ConsumeIntInRange(0, len(CONTENT_TYPES) - 1)]
    content = fdp.ConsumeBytes(fdp.remaining_bytes())
    fast = fast_entries(content, content_type)
    if fast is not None:
        headers = {"content-type": content_type} if content_type else {}
        doc = feedparser.parse(content, response_headers=headers, sanitize_html=False, resolve_relative_uris=False)
        slow = [_feed_entry(e) for e in doc.entries]
        if fast != slow:
            raise AssertionError(f"fast reader disagrees with feedparser:\n{fast!r}\n{slow!r}")
    with contextlib.suppress(FeedError):
        parse_feed(content, content_type, "fuzz", FETCHED)


def record(data: bytes) -> None:
    """A ``news.raw`` record value: a valid item or ``InvalidRecord``, never another exception."""
    with contextlib.suppress(InvalidRecord):
        decode_item(data, MAX_RECORD_BYTES)


TARGETS: dict[str, Callable[[bytes], None]] = {"feed": feed, "record": record}


def main() -> None:
    """``python -m tests.fuzz.targets <target> [libFuzzer flags and corpus folders]``."""
    target = TARGETS[sys.argv[1]]
    atheris.Setup([sys.argv[0], *sys.argv[2:]], target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
