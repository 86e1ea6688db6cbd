"""Finishes what the parent-death signal starts when a supervisor is killed.

The parent-death signal is a SIGTERM: a part that shuts down slowly (a worker committing its
offsets on a busy machine) or ignores it, and anything a part started, could outlive a SIGKILLed
supervisor. The supervisor starts this small process in a session of its own, tells it each
part's pid on a pipe, and holds the pipe's only write end: end of file means the supervisor is
gone, however it went. The watchdog then gives the parts ``grace`` seconds and kills their
process groups, and exits. After a normal stop it finds nothing left and exits at once.

Run as ``python -m finsentry.app.watchdog GRACE`` with the pipe as stdin; lines are
``PID START_TICKS``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time

from finsentry.proc import is_running


def read_parts(lines: list[str]) -> list[tuple[int, int]]:
    """``(pid, start ticks)`` of every well-formed line (a torn last line is skipped)."""
    parts = []
    for line in lines:
        fields = line.split()
        if len(fields) == 2 and fields[0].isdigit() and fields[1].isdigit():
            parts.append((int(fields[0]), int(fields[1])))
    return parts


def finish(parts: list[tuple[int, int]], grace: float) -> None:
    """Wait up to ``grace`` seconds for ``parts`` to exit, then SIGKILL the process groups left."""
    deadline = time.monotonic() + grace
    while (left := [p for p in parts if is_running(*p)]) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid, _ in left:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)


def main() -> None:
    """Read pids until the supervisor is gone, then make sure its parts are too."""
    for signum in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)  # only the pipe's end stops us
    grace = float(sys.argv[1])
    lines = sys.stdin.read().splitlines()  # returns when the supervisor's end closes
    finish(read_parts(lines), grace)


if __name__ == "__main__":
    main()
