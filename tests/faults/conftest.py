"""Fault suite: the real embedded stack, faults injected, one checker over every case."""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer

from finsentry import topics
from finsentry.broker import ensure_topics
from ingest.replay import record_key
from tests.conftest import skip_backlog
from tests.faults.checker import History, settled_lag, write_report
from tests.stream.conftest import WorkerProcess

REPORT_DIR = Path(os.environ.get("FINSENTRY_FAULT_REPORT", "var/faults"))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    from tests.faults.checker import REPORT

    if REPORT:
        table = write_report(REPORT_DIR)
        terminalreporter.write_sep("=", f"fault report (also {REPORT_DIR}/report.md)")
        terminalreporter.write_line(table)


def fault_env(bootstrap: str, home: Path, **extra: str) -> dict[str, str]:
    """Environment of one case's workers: own group (reading only what the case sends), own store, the broker."""
    group = f"fault-{uuid.uuid4().hex[:8]}"
    ensure_topics(bootstrap, 4)
    skip_backlog(bootstrap, group)
    return {
        **os.environ,
        "FINSENTRY_HOME": str(home),
        "FINSENTRY_KAFKA__BOOTSTRAP": bootstrap,
        "FINSENTRY_KAFKA__GROUP": group,
        "FINSENTRY_STORE__URL": f"sqlite:///{home}/docs.db",
        "FINSENTRY_MODEL__CLASSIFIER_URL": "baseline://",
        "FINSENTRY_WORKER__BATCH_SIZE": "32",
        "FINSENTRY_WORKER__BATCH_WITHIN": "0.2",
        "FINSENTRY_WORKER__WRITE_RETRIES": "2",
        "HF_HUB_OFFLINE": "1",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


class Supervised:
    """A worker restarted whenever it exits, as `finsentry up` or Docker's restart policy does."""

    def __init__(self, env: dict[str, str], instance_id: str = "w1") -> None:
        self.env, self.instance_id = env, instance_id
        self.restarts = 0
        self.exit_codes: list[int] = []
        self._stop = threading.Event()
        self.current = WorkerProcess(env, instance_id)
        self.current.wait_ready(90)
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(0.3):
            if self.current.proc.poll() is not None:
                self.exit_codes.append(self.current.proc.returncode)
                if self._stop.wait(0.5):
                    return
                self.restarts += 1
                self.current = WorkerProcess(self.env, self.instance_id)

    def lag(self) -> int:
        """This worker group's lag on news.raw once settled (see :func:`settled_lag`)."""
        return settled_lag(self.env["FINSENTRY_KAFKA__BOOTSTRAP"], self.env["FINSENTRY_KAFKA__GROUP"])

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.current.stop()


@pytest.fixture
def supervised() -> Iterator[Callable[..., Supervised]]:
    started: list[Supervised] = []

    def factory(env: dict[str, str], instance_id: str = "w1") -> Supervised:
        s = Supervised(env, instance_id)
        started.append(s)
        return s

    yield factory
    for s in started:
        s.stop()


def good_item(nonce: str, n: int) -> dict[str, str]:
    return {
        "source": "faults",
        "url": f"https://faults.example.com/{nonce}/{n}",
        "title": f"$ACME quarterly update {n} ({nonce})",
        "published_at": "2026-11-20T12:00:00+00:00",
    }


def produce(bootstrap: str, history: History, items: list[bytes], good_ids: set[str] | None = None) -> None:
    """Send records with acks=all; count them into the case's history."""
    ensure_topics(bootstrap, 4)
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, retries=10)
    for value in items:
        producer.send(topics.RAW, key=record_key(value), value=value)
    producer.flush()
    producer.close()
    history.sent += len(items)
    if good_ids:
        history.good_ids |= good_ids


def new_history(fault: str) -> History:
    return History(fault=fault, nonce=uuid.uuid4().hex[:12])


def encode(obj: dict[str, str]) -> bytes:
    return json.dumps(obj).encode()
