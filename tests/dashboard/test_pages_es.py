"""The same pages on the Elasticsearch API (noida-db): the values shown match the SQLite ones."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta

import pytest

from dashboard.backends import Backends
from finsentry.app.factory import make_alert_stores, make_label_store, make_store
from finsentry.settings import DashboardSettings, Settings
from tests.conftest import EmbeddedSearch
from tests.dashboard.apptest import metrics, run_page, texts
from tests.dashboard.conftest import NOW, SENTIMENTS, TOPICS, make_alert, put_alerts, seed_docs


@pytest.fixture
def es_backends(make_settings: Callable[..., Settings], search_server: EmbeddedSearch) -> Backends:
    settings = make_settings(store={"url": search_server.url, "index_prefix": "d" + uuid.uuid4().hex[:10]})
    docs = make_store(settings)
    docs.upsert(seed_docs())
    b = Backends(
        docs=docs,
        labels=make_label_store(settings),
        alerts=make_alert_stores(settings).alerts,
        sentiments=SENTIMENTS,
        topics=TOPICS,
        local_user="tester",
        clock=lambda: NOW + timedelta(minutes=1),
        settings=DashboardSettings(refresh_s=3600),
    )
    put_alerts(b, make_alert("al-bank", "BANK", ["doc000102", "doc000101", "doc000100"]))
    return b


def test_overview_search_and_story_on_elasticsearch(es_backends: Backends) -> None:
    shown = metrics(run_page(es_backends, "overview"))
    assert shown["Documents"] == "33"
    assert shown["Negative share"] == f"{15 / 33:.1%}"
    at = run_page(es_backends, "search", {"doc": "doc000101"})
    assert metrics(at)["Results on this page"] == "33"
    assert "Story doc000100: 3 copies" in texts(at)


def test_alert_tickers_and_feedback_on_elasticsearch(es_backends: Backends) -> None:
    at = run_page(es_backends, "alerts", {"id": "al-bank"})
    assert metrics(at)["Stories in window"] == "3"
    assert list(at.dataframe[-1].value["id"]) == ["doc000102", "doc000101", "doc000100"]
    at = run_page(es_backends, "tickers")
    at.text_input(key="tk_ticker").input("BANK").run()
    assert "Stories (1)" in texts(at) and "Alerts (1)" in texts(at)
    at = run_page(es_backends, "feedback", {"doc": "doc000004"})
    at.selectbox(key="fb_s_doc000004").select("positive")
    at.button[0].click().run()
    assert es_backends.labels is not None
    assert [(lab.doc_id, lab.old_sentiment, lab.sentiment) for lab in es_backends.labels.labels()] == [
        ("doc000004", "neutral", "positive")
    ]
