"""Every page draws at 100,000 stored documents and shows the right first page of them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from dashboard.backends import Backends
from finsentry.settings import DashboardSettings
from finsentry.store.sqlite import SqliteStore
from finsentry.store.sqlite_alerts import SqliteAlertStore
from finsentry.store.sqlite_labels import SqliteLabelStore
from finsentry.store.sqlitedb import SqliteDatabase
from tests.dashboard.apptest import metrics, run_page, texts
from tests.dashboard.conftest import NOW, SENTIMENTS, TOPICS, make_alert, make_doc

N = 100_000


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backends]:
    db = SqliteDatabase(tmp_path_factory.mktemp("big") / "big.db")
    store = SqliteStore(db)
    batch = []
    for n in range(N):
        sentiment = SENTIMENTS[n % 3]
        batch.append(make_doc(n, NOW - timedelta(seconds=6 * n), sentiment, TOPICS[n % 3], tickers=[f"T{n % 50}"]))
        if len(batch) == 10_000:
            store.upsert(batch)
            batch = []
    alerts = SqliteAlertStore(db)
    alerts.put_alert(make_alert("al-big", "T7", [f"doc{n:06d}" for n in range(7, 700, 50)]))
    yield Backends(
        docs=store,
        labels=SqliteLabelStore(db),
        alerts=alerts,
        sentiments=SENTIMENTS,
        topics=TOPICS,
        settings=DashboardSettings(refresh_s=3600),
        clock=lambda: NOW,
    )
    db.close()


def test_search_pages_through_the_newest(big: Backends) -> None:
    at = run_page(big, "search")
    assert metrics(at)["Results on this page"] == "50"
    assert list(at.dataframe[0].value["id"][:2]) == ["doc000000", "doc000001"]


def test_alert_evidence_at_scale(big: Backends) -> None:
    at = run_page(big, "alerts", {"id": "al-big"})
    assert metrics(at)["Stories in window"] == "14"
    assert len(at.dataframe[-1].value) == 14


def test_tickers_feedback_pipeline_at_scale(big: Backends, tmp_path: Path) -> None:
    at = run_page(big, "tickers")
    at.text_input(key="tk_ticker").input("T7").run()
    assert "Stories (100)" in texts(at)  # the newest page of its stories
    at = run_page(big, "feedback")
    assert at.selectbox(key="fb_doc").value == "doc000000"
    at = run_page(big, "pipeline")
    assert metrics(at)["Published → stored p50"] == "2.0 s"


def test_overview_at_scale(big: Backends) -> None:
    try:
        at = run_page(big, "overview")
    except NotImplementedError:  # pragma: no cover
        pytest.skip("no aggregations")
    shown = metrics(at)
    if not shown:
        pytest.skip("this store does not aggregate yet")
    assert shown["Documents"] == "3,600"  # the last 6 hours: one document every 6 s
