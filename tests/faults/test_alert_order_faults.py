"""Out-of-order, duplicated and late documents around a window's edges, through the real worker and detector."""

from __future__ import annotations

import random
import string
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from alerts.service import DETECTOR_READY
from finsentry.broker import EmbeddedBroker
from finsentry.ids import doc_id
from finsentry.protocols import SearchQuery
from finsentry.store.sqlite import SqliteStore
from finsentry.store.sqlite_alerts import SqliteAlertStore
from finsentry.store.sqlitedb import SqliteDatabase
from tests.alerts.headlines import NEGATIVE, burst_rules
from tests.conftest import CliProcess, skip_backlog
from tests.faults.conftest import Supervised, encode, fault_env, new_history, produce
from tests.stream.conftest import wait_until

RULES = burst_rules("order-negative")


def _item(nonce: str, title: str, at: datetime) -> dict[str, str]:
    return {"source": "faults", "url": f"https://faults.example.com/{nonce}/{uuid.uuid4().hex}",
            "title": f"{title} ({nonce})", "published_at": at.isoformat()}  # fmt: skip


def test_out_of_order_duplicated_and_late_documents_around_window_edges(
    broker: EmbeddedBroker, supervised: Callable[..., Supervised], tmp_path: Path
) -> None:
    h = new_history("out-of-order, duplicated and late documents around window edges")
    ticker = "".join(random.choices(string.ascii_uppercase, k=5))
    window = datetime.fromtimestamp((time.time() - 120) // 3600 * 3600, UTC)
    # eight stories in the window, the first on its opening second; two in the window before, on its
    # last seconds (within the allowed lateness of the newest event, W + 30 s); one two hours old (late)
    titles = [t.format(t="$" + ticker) for t in NEGATIVE[:10]]
    current = [_item(h.nonce, t, window + timedelta(seconds=n * 4)) for n, t in enumerate(titles[:8])]
    previous = [_item(h.nonce, t, window - timedelta(seconds=n + 1)) for n, t in enumerate(titles[8:])]
    late = [_item(h.nonce, "$" + ticker + " shares crash after old fraud", window - timedelta(hours=2))]
    order = current + previous + late
    random.Random(7).shuffle(order)

    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    env = fault_env(broker.bootstrap, tmp_path, FINSENTRY_ALERTS__RULES=str(rules),
                    FINSENTRY_ALERTS__GROUP=f"d-{h.nonce}", FINSENTRY_ALERTS__INSTANCE_ID="detector-1",
                    FINSENTRY_ALERTS__GROUP_WAIT_S="0.3")  # fmt: skip
    skip_backlog(broker.bootstrap, f"d-{h.nonce}", "news.scored")
    sup = supervised(env)
    detector = CliProcess([sys.executable, "-m", "finsentry.app.cli", "alerts", "detect"], env, DETECTOR_READY)
    try:
        detector.wait_ready(90)
        ids = {doc_id(i["url"]) for i in order}
        for part in (order[:4], order[4:8], order[8:], order[:3]):  # separate batches; three sent twice
            produce(broker.bootstrap, h, [encode(i) for i in part], ids)
            time.sleep(0.5)
        store = SqliteStore(tmp_path / "docs.db")
        wait_until(lambda: len(set(h.stored_ids(store))) >= len(ids), 60, "every document stored")
        alerts = SqliteAlertStore(SqliteDatabase(tmp_path / "docs.db"))
        wait_until(lambda: any(a.key == ticker and a.count >= 5 for a in alerts.list_alerts()), 30, "the alert")
        time.sleep(2.0)  # whatever else the detector would do, it has done
        found = [a for a in alerts.list_alerts() if a.key == ticker]
        stored = store.search(SearchQuery(ticker=ticker, sentiment="negative", since=window, limit=1000))
        recount = len({d.story_id for d in stored if d.event_time < window + timedelta(hours=1)})
        note = f"one alert, count {found[0].count} = recount {recount}" if len(found) == 1 else f"alerts: {found}"
        out = h.judge(store, note=note, lag=sup.lag())
        assert out.holds, out
        (alert,) = found  # nothing for the window before (2 stories) nor for the late document
        assert alert.first_window_start == window and alert.count == recount >= 5
    finally:
        detector.stop()
