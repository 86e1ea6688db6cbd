"""Every page on seeded SQLite data, drawn by Streamlit's test harness: the values shown."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from dashboard.backends import Backends
from dashboard.pages.feedback import correction
from finsentry.app.cli_dashboard import export_rows
from finsentry.protocols import TrendQuery
from tests.dashboard.apptest import metrics, run_page, texts
from tests.dashboard.conftest import make_alert, put_alerts, seed_docs

MakeBackends = Callable[..., Backends]
NEGATIVES = 15  # 12 of the 30 plain documents and the 3 copies of the story


def _aggregates(b: Backends) -> None:
    try:
        b.docs.trend(TrendQuery(bucket_seconds=60))
    except NotImplementedError:
        pytest.skip("this store does not aggregate yet")


def test_overview_shows_totals_of_the_range(make_backends: MakeBackends) -> None:
    b = make_backends(seed_docs())
    _aggregates(b)
    at = run_page(b, "overview")
    shown = metrics(at)
    assert shown["Documents"] == "33"
    assert shown["Negative share"] == f"{NEGATIVES / 33:.1%}"
    assert "Sentiment index" in shown


def test_overview_filters_survive_and_narrow(make_backends: MakeBackends) -> None:
    b = make_backends(seed_docs())
    _aggregates(b)
    at = run_page(b, "overview")
    at.text_input(key="ov_ticker").input("BANK").run()
    assert metrics(at)["Documents"] == "3"
    assert metrics(at)["Negative share"] == "100.0%"
    assert at.text_input(key="ov_ticker").value == "BANK"


def test_search_lists_documents_with_scores_and_model(make_backends: MakeBackends) -> None:
    at = run_page(make_backends(seed_docs()), "search")
    assert metrics(at)["Results on this page"] == "33"
    table = at.dataframe[0].value
    assert set(table["model"]) == {"v-test-1"}
    assert table.iloc[0]["title"] == "$ACME headline number 29"  # newest first
    at.selectbox(key="se_sentiment").select("negative").run()
    assert metrics(at)["Results on this page"] == str(NEGATIVES)
    assert set(at.dataframe[0].value["sentiment"]) == {"negative"}


def test_full_text_search(make_backends: MakeBackends) -> None:
    at = run_page(make_backends(seed_docs()), "search")
    at.text_input(key="se_text").input("central bank").run()
    assert metrics(at)["Results on this page"] == "3"


def test_document_view_shows_its_story_copies(make_backends: MakeBackends) -> None:
    at = run_page(make_backends(seed_docs()), "search", {"doc": "doc000101"})
    shown = texts(at)
    assert "Central bank surprises markets \\(copy 1\\)" in shown
    assert "Story doc000100: 3 copies" in shown
    copies = at.dataframe[-1].value
    assert sorted(copies["source"]) == ["syndicate-0", "syndicate-1", "syndicate-2"]


def test_alert_feed_and_evidence_at_its_url(make_backends: MakeBackends) -> None:
    b = make_backends(seed_docs())
    put_alerts(
        b,
        make_alert("al-bank", "BANK", ["doc000102", "doc000101", "doc000100"]),
        make_alert("al-old", "ACME", ["doc000000"], state="resolved", updated_at=seed_docs()[0].event_time),
    )
    at = run_page(b, "alerts", {"id": "al-bank"})
    shown = metrics(at)
    assert shown["Alerts"] == "2"
    assert shown["Stories in window"] == "3"
    assert shown["Baseline"] == "0.50"
    assert shown["poisson"] == "7.25"
    evidence = at.dataframe[-1].value
    assert list(evidence["id"]) == ["doc000102", "doc000101", "doc000100"]
    assert "Central bank surprises markets (copy 2)" in list(evidence["title"])
    assert at.dataframe[0].value.iloc[0]["link"] == "http://127.0.0.1:8501/alerts?id=al-bank"
    at.radio(key="al_state").set_value("Resolved").run()
    assert metrics(at)["Alerts"] == "1"


def test_evidence_outside_the_alert_window_is_still_shown_in_order(make_backends: MakeBackends) -> None:
    b = make_backends(seed_docs())
    put_alerts(b, make_alert("al-bank", "BANK", ["doc000102", "doc000000", "gone-from-store"]))
    at = run_page(b, "alerts", {"id": "al-bank"})
    evidence = at.dataframe[-1].value
    assert list(evidence["id"]) == ["doc000102", "doc000000"]  # the second is an older ACME story: looked up
    assert "1 evidence document(s) are no longer in the store." in [c.value for c in at.caption]


def test_alert_link_opens_that_alert(make_backends: MakeBackends) -> None:
    b = make_backends(seed_docs())
    put_alerts(
        b, make_alert("al-bank", "BANK", ["doc000100"]), make_alert("al-acme", "ACME", ["doc000000", "doc000005"])
    )
    at = run_page(b, "alerts", {"id": "al-acme"})
    assert at.selectbox(key="al_pick").value == "al-acme"
    assert metrics(at)["Stories in window"] == "2"
    assert at.query_params["id"] == "al-acme"


def test_tickers_timeline_stories_and_alerts(make_backends: MakeBackends) -> None:
    b = make_backends(seed_docs())
    put_alerts(b, make_alert("al-bank", "BANK", ["doc000100"]), make_alert("al-acme", "ACME", ["doc000000"]))
    at = run_page(b, "tickers")
    at.text_input(key="tk_ticker").input("bank").run()
    shown = texts(at)
    assert "Stories (1)" in shown  # three copies, one story
    assert "Alerts (1)" in shown
    assert at.dataframe[-1].value.iloc[0]["link"].endswith("/alerts?id=al-bank")


def test_tickers_defaults_to_the_most_mentioned(make_backends: MakeBackends) -> None:
    at = run_page(make_backends(seed_docs()), "tickers")
    assert "$ACME" in [s.value for s in at.subheader]
    assert "Stories (30)" in texts(at)


def test_feedback_correction_is_stored_and_exported(make_backends: MakeBackends) -> None:
    b = make_backends(seed_docs())
    at = run_page(b, "feedback", {"doc": "doc000007"})
    assert at.selectbox(key="fb_doc").value == "doc000007"
    at.selectbox(key="fb_s_doc000007").select("negative")
    at.selectbox(key="fb_t_doc000007").select("Stock Movement")
    at.button[0].click().run()
    assert b.labels is not None
    (label,) = b.labels.labels()
    assert (label.doc_id, label.user, label.model_version) == ("doc000007", "tester", "v-test-1")
    assert (label.old_sentiment, label.sentiment) == ("positive", "negative")
    assert (label.old_topic, label.topic) == ("Macro", "Stock Movement")
    assert label.text == "$ACME headline number 7"
    assert "Latest corrections (1)" in texts(at)
    assert export_rows(b.labels.labels()) == [
        {"text": "$ACME headline number 7", "sentiment": "negative", "topic": "Stock Movement"}
    ]


def test_feedback_label_text_is_what_the_model_read(make_backends: MakeBackends) -> None:
    docs = seed_docs()
    headline_less = docs[0].model_copy(update={"title": "   ", "body": "  Body the model read  "})
    b = make_backends([headline_less])
    assert correction(headline_less, "negative", "Macro", "x", b).text == "Body the model read"


def test_pipeline_page_without_services(make_backends: MakeBackends) -> None:
    at = run_page(make_backends(seed_docs()), "pipeline")
    shown = metrics(at)
    assert shown["Published → stored p50"] == "2.0 s"
    assert shown["Window end → alerted p50"] == "-"
    assert "broker unavailable" in texts(at)
    assert "Label distribution over time" in texts(at)
    shares = at.dataframe[-1].value
    assert dict(zip(shares["sentiment"], shares["documents"], strict=True)) == {
        "negative": NEGATIVES,
        "neutral": 12,
        "positive": 6,
    }


@pytest.mark.parametrize("page", ["overview", "alerts", "search", "tickers", "feedback", "pipeline", None])
def test_empty_store_renders_empty_states(make_backends: MakeBackends, page: str | None) -> None:
    at = run_page(make_backends(), page)
    assert not at.dataframe or all(d.value.empty for d in at.dataframe)
    assert at.info or at.caption


def test_pages_without_optional_stores(make_backends: MakeBackends) -> None:
    b = make_backends(seed_docs(), labels=None, alerts=None)
    assert "No alert store is configured" in texts(run_page(b, "alerts"))
    assert "No label store is configured" in texts(run_page(b, "feedback"))
