"""Run every part as a child process: ordered start, readiness, one log stream, clean stop.

No part outlives the supervisor, however it ends: each part leads its own process group (stops
reach whatever it started) and gets the parent-death signal (a SIGKILLed supervisor still stops
it). A pid file per part under ``FINSENTRY_HOME/run`` lets the next start find anything left.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import IO, TextIO

from finsentry.app.rundir import RunDir
from finsentry.errors import FinsentryError, ServiceUnavailable
from finsentry.proc import EXIT_TEMPFAIL, die_with, start_ticks

log = logging.getLogger(__name__)

MAX_RESTARTS = 5  # quick exits in a row before the supervisor gives up on a part
STEADY_AFTER_S = 60.0  # a part that ran this long starts its restart count afresh
# After a supervisor's death, its parts get this long to stop on SIGTERM before the watchdog kills them.
WATCHDOG_GRACE_S = 3.0


class Interrupted(FinsentryError):
    """A signal asked the supervisor to stop while it was still starting parts."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"interrupted by {signal.Signals(signum).name}")
        self.signum = signum


@dataclass
class Part:
    """A child process the supervisor runs.

    Attributes:
        name: prefix of its log lines.
        argv: the command.
        ready_marker: a substring of an output line that means "ready"; None = ready at once.
        ready_check: polled until true (e.g. a port is open); used with or without a marker.
        oneshot: exits by itself when done (no restart).

    """

    name: str
    argv: Sequence[str]
    ready_marker: str | None = None
    ready_check: Callable[[], bool] | None = None
    oneshot: bool = False
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    seen_ready: threading.Event = field(default_factory=threading.Event, repr=False)
    restarts: int = 0
    started_at: float = 0.0


class Supervisor:
    """Starts parts in order, prefixes their output, restarts crashed ones, stops them all."""

    def __init__(
        self,
        env: dict[str, str],
        status: Callable[[], str | None] | None = None,
        status_every: float = 5.0,
        out: TextIO | None = None,
        run_dir: RunDir | None = None,
        first_delay: float = 2.0,
    ) -> None:
        """A supervisor with no parts yet.

        Args:
            env: the parts' environment (each part may add to it).
            status: returns the status line, or None when there is nothing new to say.
            status_every: seconds between calls of ``status``.
            out: the shared log stream (stdout).
            run_dir: where pid files are kept, for a later start to find leftovers.
            first_delay: seconds before the first restart of a crashed part; doubled each time.

        """
        self._env = env
        self._first_delay = first_delay
        self._status = status
        self._status_every = status_every
        self._out = out or sys.stdout
        self._run_dir = run_dir
        self._lock = threading.Lock()
        self._parts: list[Part] = []
        # Plain flags, not Events: a signal handler that takes a lock the interrupted main
        # thread holds (an Event's condition) deadlocks.
        self._stopping = False
        self._hurry = False
        self._watchdog: IO[bytes] | None = None
        self._watchdog_proc: subprocess.Popen[bytes] | None = None
        self.signum: int | None = None

    def write(self, name: str, line: str) -> None:
        """One line of the shared log stream, prefixed with the part's name."""
        with self._lock:
            self._out.write(f"{name:<10}| {line}\n")
            self._out.flush()

    def _pump(self, part: Part, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip()
            if part.ready_marker and part.ready_marker in line:
                part.seen_ready.set()
            self.write(part.name, line)

    def _spawn(self, part: Part) -> None:
        # Called on the main thread only: the kernel sends the parent-death signal when the
        # forking *thread* ends, and the main thread lives as long as the supervisor.
        part.seen_ready.clear()
        part.proc = subprocess.Popen(
            list(part.argv),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**self._env, **part.env},
            start_new_session=True,
            preexec_fn=die_with(os.getpid()),
        )
        part.started_at = time.monotonic()
        self._tell_watchdog(part.proc.pid)
        if self._run_dir is not None:
            self._run_dir.record(part.name, part.proc.pid)
        threading.Thread(target=self._pump, args=(part, part.proc), daemon=True).start()

    def _tell_watchdog(self, pid: int) -> None:
        """Register a part with the watchdog (started with the first part)."""
        if self._watchdog is None:
            read, write = os.pipe()
            self._watchdog_proc = subprocess.Popen(
                [sys.executable, "-m", "finsentry.app.watchdog", str(WATCHDOG_GRACE_S)],
                stdin=read,
                stdout=subprocess.DEVNULL,
                env=self._env,
                start_new_session=True,  # no terminal signal reaches it; it must outlive us
            )
            os.close(read)
            self._watchdog = os.fdopen(write, "wb", buffering=0)
        with contextlib.suppress(OSError):  # a missing watchdog leaves the parent-death signal
            self._watchdog.write(f"{pid} {start_ticks(pid) or 0}\n".encode())

    def _is_ready(self, part: Part) -> bool:
        if part.ready_marker and not part.seen_ready.is_set():
            return False
        return part.ready_check() if part.ready_check else True

    def check_interrupted(self) -> None:
        """Between start-up steps: stop starting once a signal came.

        Raises:
            Interrupted: a stop signal arrived.

        """
        if self._stopping:
            raise Interrupted(self.signum or signal.SIGINT)

    def start(self, part: Part, timeout: float = 90.0) -> None:
        """Start ``part`` and wait until it is ready.

        Raises:
            ServiceUnavailable: it exited or did not become ready in time.
            Interrupted: a stop signal arrived meanwhile.

        """
        self.check_interrupted()
        self._parts.append(part)
        self._spawn(part)
        deadline = time.monotonic() + timeout
        while not self._is_ready(part):
            self.check_interrupted()
            assert part.proc is not None
            if part.proc.poll() is not None and not part.oneshot:
                raise ServiceUnavailable(f"{part.name} exited with {part.proc.returncode} before ready")
            if time.monotonic() > deadline:
                raise ServiceUnavailable(f"{part.name} not ready within {timeout:.0f}s")
            time.sleep(0.1)
        self.write("finsentry", f"{part.name} ready")

    def request_stop(self, signum: int, _frame: object = None) -> None:
        """Signal handler: stop (a second signal: stop without waiting for parts to finish)."""
        if self._stopping:
            self._hurry = True
            return
        self.signum = signum
        self._stopping = True

    def _pause(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True as soon as a stop is requested."""
        deadline = time.monotonic() + seconds
        while not self._stopping:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(left, 0.1))
        return True

    def watch(self) -> int:
        """Restart crashed parts and print the status line until asked to stop.

        Returns:
            0 when stopped by a signal, 1 when a part kept exiting and the supervisor gave up.

        """
        next_status = time.monotonic() + self._status_every
        while not self._pause(0.5):
            for part in self._parts:
                if not self._check(part):
                    return 1
            if self._status and time.monotonic() >= next_status:
                next_status = time.monotonic() + self._status_every
                self._print_status()
        return 0

    def _print_status(self) -> None:
        assert self._status is not None
        try:
            line = self._status()
        except Exception as exc:  # noqa: BLE001 - a status hiccup must not stop the pipeline
            line = f"unavailable: {exc}"
        if line:
            self.write("status", line)

    def _check(self, part: Part) -> bool:
        """Restart ``part`` when it exited; False when it keeps exiting (give up)."""
        if part.proc is None or part.proc.poll() is None:
            return True
        if self._run_dir is not None:
            self._run_dir.forget(part.name)
        code = part.proc.returncode
        if part.oneshot:
            self.write("finsentry", f"{part.name} done" if code == 0 else f"{part.name} exited with {code}")
            part.proc = None  # reported once
            return True
        ran = time.monotonic() - part.started_at
        part.restarts = 1 if ran >= STEADY_AFTER_S else part.restarts + 1
        # A part that exits EX_TEMPFAIL waits out a server outage of any length: keep restarting.
        if part.restarts > MAX_RESTARTS and code != EXIT_TEMPFAIL:
            self.write("finsentry", f"{part.name} exited with {code} {MAX_RESTARTS + 1} times in a row; giving up")
            return False
        delay = min(self._first_delay * 2 ** (part.restarts - 1), 30.0)
        self.write("finsentry", f"{part.name} exited with {code}; restart in {delay:.0f}s")
        if not self._pause(delay):
            self._spawn(part)
        return True

    def stop_all(self, grace: float = 15.0) -> None:
        """Stop parts in reverse start order: SIGTERM, then SIGKILL after ``grace`` seconds.

        A second stop signal meanwhile kills the rest at once.
        """
        self._stopping = True
        for part in reversed(self._parts):
            self._stop_part(part, grace)
        if self._watchdog is not None and self._watchdog_proc is not None:
            self._watchdog.close()  # nothing of ours is left: it exits at once
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._watchdog_proc.wait(WATCHDOG_GRACE_S + 2)

    def _stop_part(self, part: Part, grace: float) -> None:
        proc = part.proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            deadline = time.monotonic() + grace
            while proc.poll() is None:
                if time.monotonic() > deadline or self._hurry:
                    self.write("finsentry", f"{part.name} did not stop in time; killing")
                    break
                time.sleep(0.05)
            # Also whatever the part started and left behind in its group.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            self.write("finsentry", f"{part.name} stopped")
        if self._run_dir is not None:
            self._run_dir.forget(part.name)
