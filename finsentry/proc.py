"""Process utilities every part may use (core: imports nothing of ours)."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

_PR_SET_PDEATHSIG = 1
# EX_TEMPFAIL (sysexits.h): a part could not make its work durable (a server is down) and wants
# to be restarted later; never a reason for the supervisor to give up on it.
EXIT_TEMPFAIL = 75


def die_with_parent() -> None:
    """Ask the kernel to SIGTERM this (child) process when its parent dies, even by SIGKILL.

    Runs in the child between fork and exec, so that no part outlives its supervisor.
    """
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def die_with(parent: int) -> Callable[[], None]:
    """A ``preexec_fn`` like :func:`die_with_parent` that also closes the fork/exec race.

    A parent that dies between ``fork`` and ``prctl`` sends no signal: the child then sees another
    parent and exits at once instead of running on as an orphan.

    Args:
        parent: the pid of the process that is about to fork (``os.getpid()`` before ``Popen``).

    """

    def preexec() -> None:
        die_with_parent()
        if os.getppid() != parent:
            os._exit(1)

    return preexec


def start_ticks(pid: int) -> int | None:
    """When ``pid`` started (clock ticks after boot), or None when no such live process.

    A pid together with its start time names one process: a pid reused by a later process
    has another start time. A zombie counts as gone.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ")".
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def is_running(pid: int, started: int | None = None) -> bool:
    """Whether ``pid`` is a live process (the same one, when its start time is given)."""
    ticks = start_ticks(pid)
    return ticks is not None and (started is None or ticks == started)


def terminate(pid: int, grace: float, group: bool = False, started: int | None = None) -> bool:
    """SIGTERM ``pid`` (or its process group), SIGKILL after ``grace`` seconds; wait until gone.

    Works for processes that are not our children (a leftover of an earlier run). With
    ``started``, a pid now held by another process is left alone.

    Returns:
        True when the process had to be killed with SIGKILL.

    """
    if not is_running(pid, started):
        return False
    kill: Callable[[int, int], None] = os.killpg if group else os.kill
    with contextlib.suppress(ProcessLookupError):
        kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    killed = False
    while is_running(pid, started):
        if not killed and time.monotonic() > deadline:
            killed = True
            with contextlib.suppress(ProcessLookupError):
                kill(pid, signal.SIGKILL)
        time.sleep(0.05)
    if group:  # what the leader started and left behind goes with it
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    return killed
