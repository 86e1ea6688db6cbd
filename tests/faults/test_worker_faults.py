"""Faults around the worker: process kills, broker kills, a full replay, a full disk."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from finsentry import topics
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


def test_broker_sigkilled_and_restarted_under_a_running_worker(
    supervised: Callable[..., Supervised], tmp_path: Path
) -> None:
    """The broker dies mid-stream and comes back on the same data folder and port.

    noida-db saves its Kafka state about once a second, so a SIGKILL rolls it back by up to a
    second: acknowledged records, commits and the group (its generation restarts) of that second
    are gone, and their offsets are given to the next records. No consumer can recover records the
    broker dropped, and a worker's progress through them lands on other records. So the first
    records are saved by the broker before the kill (as acknowledged records are on Apache Kafka);
    what the kill still takes is the worker's commits, its outputs and its group membership.
    Now and then Faust stops fetching for good after rejoining the restarted broker: the worker's
    liveness check (``stream/liveness.py``) then exits it and the supervisor starts a fresh one.
    """
    h = new_history("broker SIGKILL and restart")
    own = EmbeddedBroker(tmp_path / "broker", free_port())
    own.start()
    try:
        # A worker whose fetcher stops after the rejoin (Faust) exits after 10 s for a fresh one.
        env = fault_env(own.bootstrap, tmp_path, FINSENTRY_WORKER__STALL_S="10")
        values, ids = _batch(h.nonce, 0, 300)
        produce(own.bootstrap, h, values, ids)
        wait_until(lambda: _saved_records(own.data_dir, topics.RAW) >= 300, 10, "the broker to save the records")
        sup = supervised(env)
        store = SqliteStore(tmp_path / "docs.db")
        wait_until(lambda: len(h.stored_ids(store)) >= 50, 60, "some documents stored")
        _sigkill(own)
        own.start()  # same data folder and port: a crash and a restart
        values, more = _batch(h.nonce, 300, 600)
        produce(own.bootstrap, h, values, more)
        _within(lambda: len(set(h.stored_ids(store))) >= 600, 60)
        out = h.judge(store, note=f"resumed after the broker restart (worker restarts {sup.restarts})", lag=sup.lag())
        assert out.holds, out
    finally:
        own.stop()


def _saved_records(data_dir: Path, topic: str) -> int:
    """Records of ``topic`` in the state noida-db last saved (``kafka.json``, rewritten about once a second)."""
    try:
        state = json.loads((data_dir / "kafka.json").read_text())
    except (OSError, ValueError):  # not saved yet, or caught mid-write
        return 0
    for name, meta in state.get("topics", []):
        if name == topic:
            return sum(int(part["high_watermark"]) for _, part in meta["partitions"])
    return 0


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
