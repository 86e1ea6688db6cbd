"""The supervisor itself SIGKILLed mid-stream: no part outlives it, and the next start resumes."""

from __future__ import annotations

import threading
from pathlib import Path

from finsentry.broker import port_open
from finsentry.ids import doc_id
from finsentry.store.sqlite import SqliteStore
from tests.faults.checker import settled_lag
from tests.faults.conftest import encode, good_item, new_history, produce
from tests.finsentry.test_up_supervision import Up
from tests.stream.conftest import wait_until


def test_supervisor_sigkilled_mid_stream_then_started_again(tmp_path: Path) -> None:
    h = new_history("supervisor SIGKILL mid-stream, started again")
    up = Up(tmp_path / "home")
    try:
        up.start()
        up.wait_for("pipeline up", 120)
        bootstrap = f"127.0.0.1:{up.port}"
        items = [good_item(h.nonce, n) for n in range(3000)]
        ids = {doc_id(i["url"]) for i in items}
        feeder = threading.Thread(target=produce, args=(bootstrap, h, [encode(i) for i in items], ids))
        feeder.start()
        feeder.join(120)  # acknowledged by the broker: from here on these records are the pipeline's
        assert not feeder.is_alive()
        store = SqliteStore(up.home / "finsentry.db")
        wait_until(lambda: len(h.stored_ids(store)) >= 100, 60, "some documents stored")
        assert up.proc is not None
        up.proc.kill()  # SIGKILL: the supervisor runs no handler; its parts must go by themselves
        up.proc.wait()
        stored_at_kill = len(set(h.stored_ids(store)))
        up.wait_gone(10)
        assert not port_open(up.port)
        up.start()
        up.wait_for("pipeline up", 120)
        wait_until(lambda: len(set(h.stored_ids(store))) >= len(ids), 120, "every document after the restart")
        lag = settled_lag(bootstrap, "finsentry-worker")  # the default group of `finsentry up`
        out = h.judge(store, note=f"{stored_at_kill} stored when killed; no process left; resumed on start", lag=lag)
        assert up.stop() == 0
        assert out.holds, out
    finally:
        up.cleanup()
