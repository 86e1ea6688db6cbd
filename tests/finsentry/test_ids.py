from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from finsentry.errors import InvalidRecord
from finsentry.ids import canonical_url, content_id, doc_id

paths = st.lists(st.text(alphabet="abcdefghij0123456789-", min_size=1, max_size=8), max_size=4).map("/".join)


@given(paths, st.sampled_from(["http", "HTTP", "https"]), st.sampled_from(["Example.COM", "example.com"]))
def test_canonical_url_is_idempotent_and_case_insensitive_in_host(path: str, scheme: str, host: str) -> None:
    url = f"{scheme}://{host}/{path}"
    once = canonical_url(url)
    assert canonical_url(once) == once
    assert "Example" not in once


def test_tracking_params_fragment_and_default_port_do_not_change_the_id() -> None:
    a = doc_id("https://news.example.com/story/1?b=2&a=1")
    b = doc_id("https://NEWS.example.com:443/story/1/?a=1&utm_source=x&b=2#comments")
    assert a == b
    assert doc_id("https://news.example.com/story/2") != a


def test_guid_id_depends_on_source_and_guid() -> None:
    assert doc_id(None, "wire", "g1") == doc_id(None, "wire", "g1")
    assert doc_id(None, "wire", "g1") != doc_id(None, "other", "g1")


@pytest.mark.parametrize(
    "url",
    ["ftp://x.com/a", "not a url", "javascript:alert(1)", "http:///nohost", "http://x.com:00Z</a",
     "https://x.com:99999/", "http://[::1/a"],
)  # fmt: skip
def test_bad_urls_are_refused_with_a_reason(url: str) -> None:
    with pytest.raises(InvalidRecord, match="URL"):
        doc_id(url)


def test_no_url_no_guid_is_refused() -> None:
    with pytest.raises(InvalidRecord, match="neither url nor guid"):
        doc_id(None, "wire", None)


@given(st.lists(st.binary(max_size=6), max_size=3), st.lists(st.binary(max_size=6), max_size=3))
def test_content_id_differs_for_different_parts(a: list[bytes], b: list[bytes]) -> None:
    assert (content_id(*a) == content_id(*b)) == (a == b)


@given(st.text(max_size=60))
def test_any_text_is_a_canonical_url_or_refused(text: str) -> None:
    for url in (text, f"http://{text}", f"https://example.com:{text}/"):
        with contextlib.suppress(InvalidRecord):
            assert canonical_url(canonical_url(url)) == canonical_url(url)
