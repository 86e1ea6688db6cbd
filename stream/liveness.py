"""Liveness: a worker that holds partitions with records waiting, yet finishes no batch, exits.

After the broker restarts under it, Faust's fetcher can stop for good while the worker stays in
the group with its partitions assigned: nothing is consumed and nothing fails. The worker then
exits with 75, and its supervisor (``finsentry up``, Docker) starts a fresh one, which resumes
from the committed offsets; offsets are still committed only after the store write.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable

from finsentry.broker import KafkaInspector


class Liveness:
    """Tracks batches and says when records have waited ``stall_s`` seconds with none finished."""

    def __init__(self, stall_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.stall_s = stall_s
        self._clock = clock
        self._busy = 0
        self._progress_at = clock()
        self._waiting_since: float | None = None

    def batch_started(self) -> None:
        """A batch is being processed: however long it takes, that is not a stall."""
        self._busy += 1

    def batch_done(self) -> None:
        """A batch finished (stored, or failed and handed on)."""
        self._busy -= 1
        self._progress_at = self._clock()

    def stalled(self, lag: int | None) -> bool:
        """Whether ``lag`` records (None: unknown) have waited ``stall_s`` seconds with no batch finished."""
        now = self._clock()
        if lag is None or lag <= 0 or self._busy:
            self._waiting_since = None
            return False
        if self._waiting_since is None or self._progress_at > self._waiting_since:
            self._waiting_since = now
            return False
        return now - self._waiting_since >= self.stall_s


class LagProbe:
    """Lag of some partitions of a topic for a group, over one lazily opened broker connection."""

    def __init__(self, bootstrap: str, group: str, topic: str) -> None:
        self.bootstrap, self.group, self.topic = bootstrap, group, topic
        self._inspector: KafkaInspector | None = None

    def lag(self, partitions: Iterable[int]) -> int | None:
        """Records of ``partitions`` not committed by the group; None when the broker does not answer."""
        wanted = set(partitions)
        if not wanted:
            return 0
        try:
            if self._inspector is None:
                self._inspector = KafkaInspector(self.bootstrap)
            lags = self._inspector.partition_lag(self.group, self.topic)
        except Exception:  # noqa: BLE001 - broker down or restarting: an unknown lag is never a stall
            self.close()
            return None
        return sum(n for p, n in lags.items() if p in wanted)

    def close(self) -> None:
        """Drop the connection (reopened on the next call)."""
        inspector, self._inspector = self._inspector, None
        if inspector is not None:
            with contextlib.suppress(Exception):
                inspector.close()
