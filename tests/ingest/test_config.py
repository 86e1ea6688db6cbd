from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.config import FeedConfigError, load_feeds, parse_feeds


def test_minimal_file_with_defaults(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text("feeds:\n  - name: wire-a\n    url: https://example.com/rss\n")
    [feed] = load_feeds(path)
    assert (feed.name, feed.kind, feed.interval_s, feed.full_text) == ("wire-a", "rss", 300.0, False)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("feeds:\n  - name: a\n    url: ftp://x\n", "feeds[0] ('a'): url"),
        ("feeds:\n  - name: a\n    url: http://x.example/\n  - name: b\n    url: http://y.example/\n"
         "    interval_s: 0\n", "feeds[1] ('b'): interval_s"),
        ("feeds:\n  - name: a\n    url: http://x.example/\n    colour: red\n", "feeds[0] ('a'): colour"),
        ("feeds:\n  - url: http://x.example/\n", "feeds[0]: name"),
        ("feeds:\n  - name: a\n    url: http://x.example/\n  - name: a\n    url: http://y.example/\n",
         "feeds[1] ('a'): name"),
        ("feeds:\n  - name: a\n    url: file://host/x.jsonl\n", "feeds[0] ('a'): url"),
        ("feeds:\n  - name: a\n    url: file:x.jsonl\n", "absolute path"),
        ("feeds: []\n", "feeds"),
        ("- just a list\n", "expected a mapping"),
        ("feeds: [unclosed\n", "not valid YAML"),
    ],
)  # fmt: skip
def test_bad_files_name_file_entry_and_field(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(text)
    with pytest.raises(FeedConfigError) as err:
        load_feeds(path)
    assert str(err.value).startswith(str(path)) and fragment in str(err.value)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(FeedConfigError, match="cannot read"):
        load_feeds(tmp_path / "nope.yaml")


def test_example_feeds_file_is_valid() -> None:
    feeds = load_feeds(Path(__file__).parents[2] / "deploy" / "feeds.example.yaml")
    assert len(feeds) >= 5 and all(f.url.startswith("https://") for f in feeds)


_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
_entries = st.fixed_dictionaries(
    {},
    optional={
        "name": st.text(max_size=12) | _values,
        "url": st.sampled_from(["http://x.example/", "https://y.example/rss", "nope", ""]) | _values,
        "interval_s": st.floats() | st.integers() | _values,
        "kind": st.sampled_from(["rss", "json", "jsonl", "soap"]),
        "full_text": _values,
    },
)


@given(st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode),
                 st.lists(_entries, max_size=4).map(lambda f: yaml.safe_dump({"feeds": f}).encode())))  # fmt: skip
@settings(max_examples=300, deadline=None)
def test_config_parser_fails_only_with_feed_config_error(content: bytes) -> None:
    try:
        feeds = parse_feeds(content, "fuzz.yaml")
    except FeedConfigError as exc:
        assert str(exc).startswith("fuzz.yaml: ")
        return
    assert feeds and len({f.name for f in feeds}) == len(feeds)
