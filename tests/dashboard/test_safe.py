"""Outside text shown on a page is text: fuzzed escaping, hostile documents on every page that shows text."""

from __future__ import annotations

import re
from collections.abc import Callable

from hypothesis import given
from hypothesis import strategies as st

from dashboard.backends import Backends
from dashboard.safe import clip, md_text
from tests.dashboard.apptest import run_page, texts
from tests.dashboard.conftest import HOSTILE_TITLE, NOW, make_doc

_UNESCAPED = re.compile(r"(?<!\\)[!-/:-@\[-`{-~]")


def _unescape(md: str) -> str:
    return re.sub(r"\\(.)", r"\1", md)


@given(st.text(max_size=300), st.integers(min_value=1, max_value=400))
def test_markdown_shows_exactly_the_characters(text: str, limit: int) -> None:
    md = md_text(text, limit)
    assert "\n" not in md
    stripped = re.sub(r"\\.", "", md)
    assert not _UNESCAPED.search(stripped)  # every punctuation character is escaped
    shown = _unescape(md)
    assert len(shown) <= limit
    flat = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    assert shown == flat or (shown.endswith("…") and flat.startswith(shown[:-1]))


@given(st.text(max_size=500), st.integers(min_value=1, max_value=100))
def test_clip_bounds_length(text: str, limit: int) -> None:
    assert len(clip(text, limit)) <= limit


def test_hostile_document_renders_as_text(make_backends: Callable[..., Backends]) -> None:
    long_title = ("<b>" + "A" * 1990)[:2000]  # the longest title a record may carry
    docs = [
        make_doc(1, NOW, "negative", title=HOSTILE_TITLE, body="<img src=x onerror=alert(1)>\n" + "B" * 10_000),
        make_doc(2, NOW, "negative", title=long_title, source="<script>src</script>"),
    ]
    b = make_backends(docs)
    for page, query in (("search", {"doc": "doc000001"}), ("feedback", {"doc": "doc000001"}), ("tickers", None)):
        at = run_page(b, page, query)
        shown = texts(at)
        assert "<script>" not in shown.replace("\\<script\\>", "")
        assert "](http" not in shown.replace("\\](http", "")
        for table in at.dataframe:  # tables render cells as text; they keep the characters
            assert all(len(str(v)) <= 300 for v in table.value.get("title", []))
    at = run_page(b, "search", {"doc": "doc000001"})
    assert any(_unescape(m.value).startswith("#### " + HOSTILE_TITLE.replace("  ", " ")) for m in at.markdown)
    assert any(t.value.startswith("<img src=x") for t in at.text)  # the body as plain text
