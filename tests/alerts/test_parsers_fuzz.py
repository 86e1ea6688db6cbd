"""Every outside input of the alert part goes through one parser whose only failure is its own error."""

from __future__ import annotations

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.service import parse_change, parse_scored
from alerts.webhooks import RefusedDestination, WebhookError, check_url, parse_networks, parse_secret, retry_after
from finsentry.errors import InvalidRecord


def fixed_dns(host: str, port: int) -> list[str]:
    if host.endswith(".invalid"):
        raise OSError("no such host")
    return ["93.184.215.14"]


urls = st.one_of(
    st.text(max_size=80),
    st.builds(
        lambda scheme, host, port, path: f"{scheme}://{host}{port}{path}",
        st.sampled_from(["http", "https", "ftp", "file", "HTTP", "javascript", ""]),
        st.one_of(st.from_regex(r"[a-z0-9.\-\[\]:@%]{0,30}", fullmatch=True), st.just("h.invalid")),
        st.one_of(
            st.just(""), st.integers(-5, 70000).map(lambda p: f":{p}"), st.text(max_size=6).map(lambda t: ":" + t)
        ),
        st.text(max_size=20),
    ),
)


@settings(max_examples=400, deadline=None)
@given(urls)
def test_any_url_is_checked_or_refused(url: str) -> None:
    try:
        dest = check_url(url, [], fixed_dns)
    except RefusedDestination:
        return
    assert dest.pinned_url.startswith(("http://93.184.215.14:", "https://93.184.215.14:"))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_on_the_topics_parse_or_fail_with_invalid_record(value: bytes) -> None:
    for parse in (parse_scored, lambda v: parse_change(v, [("event", v[:20])])):
        with contextlib.suppress(InvalidRecord):
            parse(value)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_secrets_networks_and_retry_after_never_fail_otherwise(text: str) -> None:
    for parse in (parse_secret, lambda t: parse_networks([t])):
        with contextlib.suppress(WebhookError):
            parse(text)
    value = retry_after(text, 0.0)
    assert value is None or value >= 0
