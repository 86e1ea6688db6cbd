"""Run every part as a child process: ordered start, readiness, one log stream, clean stop."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TextIO

from finsentry.errors import ServiceUnavailable
from finsentry.proc import die_with_parent

log = logging.getLogger(__name__)


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


class Supervisor:
    """Starts parts in order, prefixes their output, restarts crashed ones, stops them all."""

    def __init__(
        self,
        env: dict[str, str],
        status: Callable[[], str] | None = None,
        status_every: float = 5.0,
        out: TextIO | None = None,
    ) -> None:
        self._env = env
        self._status = status
        self._status_every = status_every
        self._out = out or sys.stdout
        self._lock = threading.Lock()
        self._parts: list[Part] = []
        self._stop = threading.Event()

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
        part.seen_ready.clear()
        part.proc = subprocess.Popen(
            list(part.argv),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**self._env, **part.env},
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        threading.Thread(target=self._pump, args=(part, part.proc), daemon=True).start()

    def _is_ready(self, part: Part) -> bool:
        if part.ready_marker and not part.seen_ready.is_set():
            return False
        return part.ready_check() if part.ready_check else True

    def start(self, part: Part, timeout: float = 90.0) -> None:
        """Start ``part`` and wait until it is ready.

        Raises:
            ServiceUnavailable: it exited or did not become ready in time.

        """
        self._parts.append(part)
        self._spawn(part)
        deadline = time.monotonic() + timeout
        while not self._is_ready(part):
            assert part.proc is not None
            if part.proc.poll() is not None and not part.oneshot:
                raise ServiceUnavailable(f"{part.name} exited with {part.proc.returncode} before ready")
            if time.monotonic() > deadline or self._stop.is_set():
                raise ServiceUnavailable(f"{part.name} not ready within {timeout:.0f}s")
            time.sleep(0.1)
        self.write("finsentry", f"{part.name} ready")

    def request_stop(self, *_: object) -> None:
        """Signal handler: stop the watch loop."""
        self._stop.set()

    def watch(self) -> None:
        """Restart crashed parts and print the status line until asked to stop."""
        next_status = time.monotonic() + self._status_every
        while not self._stop.wait(0.5):
            for part in self._parts:
                self._check(part)
            if self._status and time.monotonic() >= next_status:
                next_status = time.monotonic() + self._status_every
                try:
                    self.write("status", self._status())
                except Exception as exc:  # noqa: BLE001 - a status hiccup must not stop the pipeline
                    self.write("status", f"unavailable: {exc}")

    def _check(self, part: Part) -> None:
        if part.proc is None or part.proc.poll() is None or part.oneshot:
            return
        part.restarts += 1
        delay = min(2.0 ** min(part.restarts, 5), 30.0)
        self.write("finsentry", f"{part.name} exited with {part.proc.returncode}; restart in {delay:.0f}s")
        time.sleep(delay)
        self._spawn(part)

    def stop_all(self, grace: float = 15.0) -> None:
        """Stop parts in reverse start order: SIGTERM, then SIGKILL after ``grace`` seconds."""
        self._stop.set()
        for part in reversed(self._parts):
            proc = part.proc
            if proc is None or proc.poll() is not None:
                continue
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.write("finsentry", f"{part.name} did not stop in {grace:.0f}s; killing")
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            self.write("finsentry", f"{part.name} stopped")
