from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.normalise import clean_text, detect_language, parse_time, published_or_fetch


def test_scripts_and_styles_go_with_their_content() -> None:
    html = "<p>Shares <b>rise</b></p><script>alert('x')</script><style>p{color:red}</style>&amp; more&nbsp;news"
    assert clean_text(html) == "Shares rise & more news"  # nbsp folded like any whitespace
    assert "alert" not in clean_text(html) and "color" not in clean_text(html)


def test_hostile_html_leaves_no_markup() -> None:
    hostile = '<img src=x onerror="steal()"><a href="javascript:evil()">click</a><iframe>bad</iframe><!-- c -->ok'
    out = clean_text(hostile)
    assert out == "clickok"
    assert "<" not in out and "steal" not in out


def test_entities_whitespace_and_nfc() -> None:
    decomposed = "Soci\u0065\u0301te\u0301  \n G&eacute;n&eacute;rale\t"
    out = clean_text(decomposed)
    assert out == "Société Générale"
    assert unicodedata.is_normalized("NFC", out)


@given(st.text(max_size=300))
@settings(max_examples=300, deadline=None)
def test_clean_text_never_fails_and_is_folded(text: str) -> None:
    out = clean_text(text)
    assert out == out.strip()
    assert "  " not in out and "\n" not in out
    assert unicodedata.is_normalized("NFC", out)


def test_missing_and_future_dates_take_the_fetch_time() -> None:
    fetched = datetime(2026, 11, 20, 12, tzinfo=UTC)
    assert published_or_fetch(None, fetched) == (fetched, True)
    assert published_or_fetch(fetched + timedelta(days=2), fetched) == (fetched, True)
    earlier = datetime(2026, 11, 20, 13, tzinfo=UTC).astimezone(datetime.now().astimezone().tzinfo)
    when, estimated = published_or_fetch(earlier - timedelta(hours=3), fetched)
    assert not estimated and when.tzinfo == UTC


def test_parse_time_forms() -> None:
    assert parse_time("2026-11-20T10:00:00+01:00") == datetime(2026, 11, 20, 9, tzinfo=UTC)
    assert parse_time("2026-11-20T10:00:00Z") == datetime(2026, 11, 20, 10, tzinfo=UTC)
    assert parse_time(1_800_000_000_000) == parse_time(1_800_000_000)
    assert parse_time("yesterday") is None and parse_time(True) is None and parse_time(None) is None


def test_language_detected_from_bundled_models() -> None:
    assert detect_language("Apple beats quarterly revenue estimates on strong iPhone demand") == "en"
    assert detect_language("Siemens erhöht die Prognose für das laufende Geschäftsjahr deutlich") == "de"
    assert detect_language("$$ 12") is None
