"""The alert path under `finsentry up`: a negative burst replayed into news.raw, one signed delivery."""

from __future__ import annotations

import json
import os
import random
import signal
import string
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from finsentry.store.sqlite_alerts import SqliteAlertStore, SqliteDeliveryStore
from finsentry.store.sqlitedb import SqliteDatabase
from tests.alerts.receiver import Answer, Receiver
from tests.alerts.test_e2e import CALM, NEGATIVE, RULES, produce, wait_until
from tests.conftest import free_port


@pytest.mark.timeout(300)
def test_negative_burst_under_finsentry_up(tmp_path: Path) -> None:
    home = tmp_path / "home"
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    port = free_port()
    env = {
        **os.environ,
        "FINSENTRY_HOME": str(home),
        "FINSENTRY_KAFKA__PORT": str(port),
        "FINSENTRY_STORE__URL": f"sqlite:///{home}/docs.db",
        "FINSENTRY_MODEL__CLASSIFIER_URL": "baseline://",
        "FINSENTRY_ALERTS__RULES": str(rules),
        "FINSENTRY_ALERTS__GROUP_WAIT_S": "0.3",
        "FINSENTRY_WEBHOOKS__ALLOW_NETWORKS": '["127.0.0.1/32"]',
        "FINSENTRY_WEBHOOKS__BACKOFF_S": "0.2",
        "FINSENTRY_WORKER__BATCH_WITHIN": "0.1",
        "PYTHONUNBUFFERED": "1",
    }
    bad, calm = ("".join(random.choices(string.ascii_uppercase, k=5)) for _ in range(2))
    log = tmp_path / "up.log"
    with Receiver() as receiver:
        receiver.script = [Answer(500), Answer(500)]
        added = subprocess.run(
            [sys.executable, "-m", "finsentry.app.cli", "subscribers", "add", receiver.url],
            env=env, capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        receiver.secrets = [json.loads(added.stdout)["secret"]]
        up = subprocess.Popen(
            [sys.executable, "-m", "finsentry.app.cli", "up"], env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT
        )
        try:
            wait_until(lambda: "pipeline up" in log.read_text(), 120, "finsentry up")
            assert "alerts ready" in log.read_text() and "deliver ready" in log.read_text()
            now = datetime.now(UTC)
            window = datetime.fromtimestamp((now.timestamp() - 120) // 3600 * 3600, UTC)
            bootstrap = f"127.0.0.1:{port}"
            produce(bootstrap, [t.format(t="$" + calm) for t in CALM], window + timedelta(seconds=1))
            produce(bootstrap, [t.format(t="$" + bad) for t in NEGATIVE[:4]], window + timedelta(seconds=10))
            time.sleep(2.0)
            crossed = time.monotonic()
            produce(bootstrap, [t.format(t="$" + bad) for t in NEGATIVE[4:]], window + timedelta(seconds=20))
            db = SqliteDatabase(home / "docs.db")
            deliveries = SqliteDeliveryStore(db)
            wait_until(lambda: any(d.status == "delivered" for d in deliveries.list_deliveries()), 15, "a delivery")
            assert receiver.received[-1].at - crossed < 10.0
            time.sleep(2.0)
        finally:
            up.send_signal(signal.SIGINT)
            assert up.wait(60) == 0
    (alert,) = SqliteAlertStore(db).list_alerts()
    assert alert.key == bad
    (delivery,) = deliveries.list_deliveries()
    assert [a.status_code for a in delivery.attempts] == [500, 500, 200]
    assert all(r.verified[receiver.secrets[0]] for r in receiver.received)
    assert {r.headers["webhook-id"] for r in receiver.received} == {delivery.id}
