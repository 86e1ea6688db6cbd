"""The supervisor with real child processes: a part that keeps crashing, a stop during start-up."""

from __future__ import annotations

import io
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from finsentry.app.rundir import RunDir
from finsentry.app.supervisor import Interrupted, Part, Supervisor
from finsentry.proc import is_running


def test_a_part_that_keeps_exiting_is_given_up_instead_of_looping(tmp_path: Path) -> None:
    out = io.StringIO()
    run = RunDir(tmp_path / "run")
    sup = Supervisor(dict(os.environ), out=out, run_dir=run, first_delay=0.01)
    sup.start(Part("flaky", ["sh", "-c", "echo up; sleep 0.1; exit 3"], ready_marker="up"))
    started = time.monotonic()
    assert sup.watch() == 1
    assert time.monotonic() - started < 20
    sup.stop_all()
    text = out.getvalue()
    assert text.count("flaky exited with 3; restart in") == 5
    assert "flaky exited with 3 6 times in a row; giving up" in text
    assert run.recorded() == []


def test_a_stop_signal_during_start_up_interrupts_and_stops_what_started(tmp_path: Path) -> None:
    out = io.StringIO()
    sup = Supervisor(dict(os.environ), out=out, run_dir=RunDir(tmp_path / "run"))
    sup.start(Part("first", ["sleep", "30"]))
    threading.Timer(0.3, sup.request_stop, (signal.SIGINT,)).start()
    slow = Part("slow", ["sleep", "30"], ready_marker="never printed")
    with pytest.raises(Interrupted) as err:
        sup.start(slow, timeout=30)
    assert err.value.signum == signal.SIGINT
    sup.stop_all()
    assert "slow stopped" in out.getvalue() and "first stopped" in out.getvalue()
    assert slow.proc is not None and not is_running(slow.proc.pid)
