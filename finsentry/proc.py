"""Process utilities every part may use (core: imports nothing of ours)."""

from __future__ import annotations

import contextlib
import ctypes
import signal

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Ask the kernel to SIGTERM this (child) process when its parent dies, even by SIGKILL.

    Runs in the child between fork and exec, so that no part outlives its supervisor.
    """
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
