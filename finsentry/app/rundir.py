"""``FINSENTRY_HOME/run``: one ``finsentry up`` per home, and a pid file for each part it runs.

The pid files let a new ``up`` find and stop what an earlier one left running when it was
killed with no chance to clean up (SIGKILL, OOM kill): parts die with their supervisor through
the parent-death signal, but a part that ignores SIGTERM, or a process a part started, would not.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path

from finsentry.errors import ConfigError
from finsentry.proc import is_running, start_ticks, terminate

LOCK_NAME = "up.lock"


@dataclass(frozen=True)
class PidFile:
    """One running part: its pid is also its process group (each part leads its own).

    Attributes:
        name: the part's name (``broker``, ``worker-1``).
        pid: its process id and process group id.
        started: its start time in clock ticks after boot, so that a reused pid is left alone.

    """

    name: str
    pid: int
    started: int

    def alive(self) -> bool:
        """Whether this very process still runs."""
        return is_running(self.pid, self.started)


class RunDir:
    """The run folder of one home: the ``up`` lock and the parts' pid files."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock_fd: int | None = None

    def lock(self) -> None:
        """Become the one ``finsentry up`` of this home (the kernel drops the lock when we die).

        Raises:
            ConfigError: another ``finsentry up`` runs on this home.

        """
        self.path.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            home = self.path.parent
            raise ConfigError(
                f"finsentry up already runs for {home} (pid {holder}); stop it, or set another FINSENTRY_HOME"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._lock_fd = fd

    def unlock(self) -> None:
        """Give the home up (also what our death does)."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def record(self, name: str, pid: int) -> None:
        """Write ``name``'s pid file (atomically: a reader never sees half of it)."""
        started = start_ticks(pid)
        if started is None:
            return  # already gone: nothing to find later
        self.path.mkdir(parents=True, exist_ok=True)
        tmp = self.path / f".{name}.pid.tmp"
        tmp.write_text(json.dumps({"name": name, "pid": pid, "started": started}))
        tmp.replace(self.path / f"{name}.pid")

    def forget(self, name: str) -> None:
        """Remove ``name``'s pid file."""
        (self.path / f"{name}.pid").unlink(missing_ok=True)

    def recorded(self) -> list[PidFile]:
        """Every readable pid file, alive or not."""
        found = []
        for file in sorted(self.path.glob("*.pid")):
            with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
                obj = json.loads(file.read_text())
                found.append(PidFile(str(obj["name"]), int(obj["pid"]), int(obj["started"])))
        return found

    def stop_leftovers(self, grace: float = 10.0) -> list[PidFile]:
        """Stop every recorded part still running (with its process group) and clear the files.

        Returns:
            The parts that were still running.

        """
        stopped = []
        for rec in self.recorded():
            if rec.alive():
                terminate(rec.pid, grace, group=True, started=rec.started)
                stopped.append(rec)
            self.forget(rec.name)
        return stopped
