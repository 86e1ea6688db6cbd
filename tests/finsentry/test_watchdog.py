"""The watchdog with real processes: once its supervisor's pipe closes, parts get a grace, then die."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from finsentry.app.watchdog import read_parts
from finsentry.proc import start_ticks

_IGNORES_TERM = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"


def test_parts_left_after_the_supervisor_are_killed_after_the_grace() -> None:
    stubborn = subprocess.Popen([sys.executable, "-c", _IGNORES_TERM], start_new_session=True)
    quick = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    read, write = os.pipe()
    watchdog = subprocess.Popen([sys.executable, "-m", "finsentry.app.watchdog", "1.0"], stdin=read)
    os.close(read)
    try:
        for p in (stubborn, quick):
            os.write(write, f"{p.pid} {start_ticks(p.pid)}\n".encode())
        time.sleep(0.5)
        assert watchdog.poll() is None and stubborn.poll() is None  # nothing happens while we live
        quick.terminate()  # a part that stops on SIGTERM is not waited for
        os.close(write)  # what our death does
        started = time.monotonic()
        assert stubborn.wait(10) == -9
        assert 0.8 < time.monotonic() - started < 5  # killed after the grace, not before
        assert watchdog.wait(5) == 0
    finally:
        for p in (stubborn, quick, watchdog):
            if p.poll() is None:
                p.kill()
                p.wait()


def test_torn_lines_are_skipped() -> None:
    assert read_parts(["12 345", "13", "x y", "14 9"]) == [(12, 345), (14, 9)]
