"""Worker processes for end-to-end tests: the real ``finsentry worker`` against the real broker."""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from finsentry.broker import EmbeddedBroker, ensure_topics
from stream.worker import READY_MARKER
from tests.conftest import CliProcess, skip_backlog

WORKER_COMMAND = ("-m", "finsentry.app.cli", "worker")


class WorkerProcess(CliProcess):
    """One ``finsentry worker`` child, its output collected for assertions."""

    def __init__(self, env: dict[str, str], instance_id: str, command: Sequence[str] = WORKER_COMMAND) -> None:
        env = {**env, "FINSENTRY_WORKER__INSTANCE_ID": instance_id}
        super().__init__([sys.executable, *command], env, READY_MARKER)


@pytest.fixture
def pipeline_env(broker: EmbeddedBroker, tmp_path: Path) -> dict[str, str]:
    """Environment for workers of one test: own group and store, shared broker."""
    ensure_topics(broker.bootstrap, 4)
    group = f"test-{uuid.uuid4().hex[:8]}"
    skip_backlog(broker.bootstrap, group)
    return {
        **os.environ,
        "FINSENTRY_HOME": str(tmp_path),
        "FINSENTRY_KAFKA__BOOTSTRAP": broker.bootstrap,
        "FINSENTRY_KAFKA__GROUP": group,
        "FINSENTRY_STORE__URL": f"sqlite:///{tmp_path}/docs.db",
        "FINSENTRY_MODEL__CLASSIFIER_URL": "local://current",
        "FINSENTRY_MODEL__REGISTRY": str(tmp_path / "models"),
        "FINSENTRY_WORKER__BATCH_SIZE": "32",
        "FINSENTRY_WORKER__BATCH_WITHIN": "0.2",
        "HF_HUB_OFFLINE": "1",
        "PYTHONUNBUFFERED": "1",
    }


@pytest.fixture
def start_worker(pipeline_env: dict[str, str]) -> Iterator[Callable[..., WorkerProcess]]:
    """Start a worker with a stable instance id (static group membership), wait until ready."""
    started: list[WorkerProcess] = []

    def factory(instance_id: str = "w1", command: Sequence[str] = WORKER_COMMAND) -> WorkerProcess:
        w = WorkerProcess(pipeline_env, instance_id, command)
        started.append(w)
        w.wait_ready()
        return w

    yield factory
    for w in started:
        w.stop()


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
