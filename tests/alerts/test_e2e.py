"""The whole alert path with real processes: broker, worker, detector, deliverer, a webhook receiver."""

from __future__ import annotations

import json
import os
import random
import string
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from alerts.service import DELIVERER_READY, DETECTOR_READY
from finsentry.broker import EmbeddedBroker, ensure_topics
from finsentry.protocols import SearchQuery
from finsentry.store.sqlite import SqliteStore
from finsentry.store.sqlite_alerts import SqliteAlertStore, SqliteDeliveryStore
from finsentry.store.sqlitedb import SqliteDatabase
from stream.worker import READY_MARKER
from tests.alerts.headlines import NEGATIVE, burst_rules
from tests.alerts.receiver import Answer, Receiver
from tests.conftest import CliProcess, skip_backlog

RULES = burst_rules("e2e-negative", "high")

CALM = [
    "{t} shares rise after upbeat forecast",
    "{t} reports quarterly results in line",
    "{t} beats estimates and raises dividend",
    "{t} announces new product launch",
    "{t} wins major contract, shares climb",
    "{t} holds annual shareholder meeting",
    "{t} expands into new markets with strong growth",
]


class Cli(CliProcess):
    """One ``finsentry`` child process with its output collected."""

    def __init__(self, argv: list[str], env: dict[str, str], marker: str) -> None:
        super().__init__([sys.executable, "-m", "finsentry.app.cli", *argv], env, marker)
        self.name = "finsentry " + " ".join(argv)


@pytest.fixture
def env(broker: EmbeddedBroker, tmp_path: Path) -> dict[str, str]:
    ensure_topics(broker.bootstrap, 4)
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    tag = uuid.uuid4().hex[:8]
    skip_backlog(broker.bootstrap, f"w-{tag}")  # what earlier tests left on the shared topics is not ours
    skip_backlog(broker.bootstrap, f"d-{tag}", "news.scored")
    skip_backlog(broker.bootstrap, f"h-{tag}", "alerts")
    return {
        **os.environ,
        "FINSENTRY_HOME": str(tmp_path),
        "FINSENTRY_KAFKA__BOOTSTRAP": broker.bootstrap,
        "FINSENTRY_KAFKA__GROUP": f"w-{tag}",
        "FINSENTRY_ALERTS__GROUP": f"d-{tag}",
        "FINSENTRY_WEBHOOKS__GROUP": f"h-{tag}",
        "FINSENTRY_ALERTS__INSTANCE_ID": "detector-1",
        "FINSENTRY_WEBHOOKS__INSTANCE_ID": "deliver-1",
        "FINSENTRY_WORKER__INSTANCE_ID": "worker-1",
        "FINSENTRY_STORE__URL": f"sqlite:///{tmp_path}/e2e.db",
        "FINSENTRY_MODEL__CLASSIFIER_URL": "baseline://",
        "FINSENTRY_ALERTS__RULES": str(rules),
        "FINSENTRY_ALERTS__GROUP_WAIT_S": "0.3",
        "FINSENTRY_WEBHOOKS__ALLOW_NETWORKS": '["127.0.0.1/32"]',
        "FINSENTRY_WEBHOOKS__BACKOFF_S": "0.2",
        "FINSENTRY_WEBHOOKS__TIMEOUT_S": "3",
        "FINSENTRY_WORKER__BATCH_SIZE": "8",
        "FINSENTRY_WORKER__BATCH_WITHIN": "0.1",
        "FINSENTRY_DASHBOARD__URL": "http://dash.example.com",
        "HF_HUB_OFFLINE": "1",
        "PYTHONUNBUFFERED": "1",
    }


@pytest.fixture
def start(env: dict[str, str]) -> Iterator[Callable[..., Cli]]:
    started: list[Cli] = []

    def factory(argv: list[str], marker: str, extra: dict[str, str] | None = None) -> Cli:
        c = Cli(argv, {**env, **(extra or {})}, marker)
        started.append(c)
        return c

    yield factory
    for c in started:
        c.stop()
        # shown by pytest only when the test failed: what each process said last
        sys.stdout.write(f"--- {c.name}\n{''.join(c.lines[-30:])}")


def produce(bootstrap: str, titles: list[str], at: datetime) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for i, title in enumerate(titles):
        item = {"source": "e2e-wire", "url": f"https://e2e.example.com/{uuid.uuid4().hex}", "title": title,
                "published_at": (at + timedelta(seconds=i)).isoformat()}  # fmt: skip
        producer.send("news.raw", key=item["url"].encode(), value=json.dumps(item).encode())
    producer.flush()
    producer.close()


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


@pytest.mark.timeout(240)
def test_negative_burst_gives_one_alert_and_one_verified_delivery_across_a_detector_kill(
    env: dict[str, str], start: Callable[..., Cli], tmp_path: Path
) -> None:
    bad, calm = ("".join(random.choices(string.ascii_uppercase, k=5)) for _ in range(2))
    with Receiver() as receiver:
        receiver.script = [Answer(500), Answer(500)]
        out = subprocess.run(
            [sys.executable, "-m", "finsentry.app.cli", "subscribers", "add", receiver.url], env=env,
            capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        receiver.secrets = [json.loads(out.stdout)["secret"]]
        refused = subprocess.run(
            [sys.executable, "-m", "finsentry.app.cli", "subscribers", "add", "http://169.254.169.254/x"], env=env,
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert refused.returncode == 1 and "not a public address" in refused.stderr

        worker = start(["worker"], READY_MARKER).wait_ready()
        detector = start(["alerts", "detect"], DETECTOR_READY).wait_ready()
        second = {"FINSENTRY_ALERTS__INSTANCE_ID": "detector-2"}
        start(["alerts", "detect"], DETECTOR_READY, second).wait_ready()  # two instances share news.scored
        start(["alerts", "deliver"], DELIVERER_READY).wait_ready()
        now = datetime.now(UTC)
        window = datetime.fromtimestamp((now.timestamp() - 120) // 3600 * 3600, UTC)
        bootstrap = env["FINSENTRY_KAFKA__BOOTSTRAP"]
        produce(bootstrap, [t.format(t="$" + calm) for t in CALM], window + timedelta(seconds=1))
        negatives = [t.format(t="$" + bad) for t in NEGATIVE]
        produce(bootstrap, negatives[:4], window + timedelta(seconds=10))
        time.sleep(2.0)  # below min_stories: nothing fires
        crossed = time.monotonic()
        produce(bootstrap, negatives[4:6], window + timedelta(seconds=20))

        db = SqliteDatabase(tmp_path / "e2e.db")
        alerts, deliveries = SqliteAlertStore(db), SqliteDeliveryStore(db)
        wait_until(lambda: any(d.status == "delivered" for d in deliveries.list_deliveries()), 10, "a delivery")
        assert receiver.received[-1].at - crossed < 10.0

        detector.stop(sig_kill=True)
        worker.stop(sig_kill=True)
        produce(bootstrap, negatives[6:9], window + timedelta(seconds=30))  # waits for the restarted worker
        start(["worker"], READY_MARKER).wait_ready()
        start(["alerts", "detect"], DETECTOR_READY).wait_ready()
        produce(bootstrap, negatives[9:], window + timedelta(seconds=40))
        wait_until(lambda: alerts.list_alerts()[0].count >= len(NEGATIVE), 60, "the rest of the burst counted")
        time.sleep(2.0)

    (alert,) = alerts.list_alerts()
    assert alert.key == bad and alert.state == "firing" and alert.first_window_start == window
    stored = SqliteStore(db).search(SearchQuery(ticker=bad, sentiment="negative", since=window, limit=1000))
    assert alert.count == len({d.story_id for d in stored}) == len(NEGATIVE)  # equals a recount from the store
    (delivery,) = deliveries.list_deliveries()
    assert delivery.status == "delivered" and [a.status_code for a in delivery.attempts] == [500, 500, 200]
    assert {r.headers["webhook-id"] for r in receiver.received} == {delivery.id}
    assert all(r.verified[receiver.secrets[0]] for r in receiver.received)
    body = json.loads(receiver.received[-1].body)
    assert body["data"]["alerts"][0]["link"] == f"http://dash.example.com/alerts?id={alert.id}"
    assert all(calm not in a.key for a in alerts.list_alerts())
    deliveries_cli = subprocess.run(
        [sys.executable, "-m", "finsentry.app.cli", "alerts", "deliveries", "--json"], env=env,
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    shown = json.loads(deliveries_cli.stdout)
    assert [a["status_code"] for a in shown[0]["attempts"]] == [500, 500, 200]
