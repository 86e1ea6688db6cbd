"""The run folder with real processes: one `up` per home, and leftovers found and stopped by pid file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from finsentry.app.rundir import RunDir
from finsentry.errors import ConfigError
from finsentry.proc import is_running, start_ticks, terminate

# A part that ignores SIGTERM and has started a child of its own in its process group.
_IGNORE_TERM = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN)"
_STUBBORN = f"""
import subprocess, sys, time
{_IGNORE_TERM}
child = subprocess.Popen([sys.executable, "-c", "{_IGNORE_TERM}; time.sleep(60)"])
print(child.pid, flush=True)
time.sleep(60)
"""


def test_a_second_up_on_the_same_home_is_refused(tmp_path: Path) -> None:
    first, second = RunDir(tmp_path / "run"), RunDir(tmp_path / "run")
    first.lock()
    with pytest.raises(ConfigError, match=f"already runs for {tmp_path} \\(pid {os.getpid()}\\)"):
        second.lock()
    first.unlock()
    second.lock()  # free again once the holder lets go
    second.unlock()


def test_leftovers_are_stopped_with_their_process_group(tmp_path: Path) -> None:
    part = subprocess.Popen(
        [sys.executable, "-c", _STUBBORN], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        assert part.stdout is not None
        grandchild = int(part.stdout.readline())
        run = RunDir(tmp_path / "run")
        run.record("worker-1", part.pid)
        stopped = RunDir(tmp_path / "run").stop_leftovers(grace=0.5)  # what the next `up` does
        assert [(s.name, s.pid) for s in stopped] == [("worker-1", part.pid)]
        assert part.wait(5) == -9  # it ignored SIGTERM, so it was killed after the grace
        assert not is_running(grandchild)  # and what it started went with its group
        assert run.recorded() == []
    finally:
        if part.poll() is None:
            os.killpg(part.pid, 9)


def test_a_reused_pid_is_left_alone(tmp_path: Path) -> None:
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"], start_new_session=True)
    try:
        started = start_ticks(other.pid)
        assert started is not None
        run = RunDir(tmp_path / "run")
        (tmp_path / "run").mkdir()
        record = {"name": "broker", "pid": other.pid, "started": started - 1}
        (tmp_path / "run" / "broker.pid").write_text(json.dumps(record))
        assert run.stop_leftovers(grace=0.5) == []  # same pid, another start time: not ours
        assert other.poll() is None
        assert not terminate(other.pid, 5, started=started)  # SIGTERM was enough
        assert other.wait(5) == -15
    finally:
        if other.poll() is None:
            other.kill()
