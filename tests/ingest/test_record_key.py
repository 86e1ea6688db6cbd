from __future__ import annotations

import pytest

from finsentry.ids import content_id, doc_id
from ingest.replay import record_key


@pytest.mark.parametrize(
    "line",
    [
        b"[" * 200_000 + b"]" * 200_000,
        b'{"url": "https://x.com/a", "n": ' + b"1" * 100_000 + b"}",
        b'{"k":' * 50_000 + b"1" + b"}" * 50_000,
        b"[1, 2]",
        b'{"url": ["not", "a", "string"]}',
        b"\xff\xfe",
    ],
)
def test_a_hostile_line_gets_a_content_hash_key_instead_of_stopping_the_replay(line: bytes) -> None:
    assert record_key(line) == content_id(line).encode()


def test_a_news_line_is_keyed_by_its_doc_id() -> None:
    assert record_key(b'{"url": "https://x.com/a?utm_source=y"}') == doc_id("https://x.com/a").encode()
