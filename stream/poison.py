"""Last line of defence against a poison pill: a batch that keeps failing is split, record by record.

Everything the worker knows can go wrong with one record is caught where it happens (see
``stream/process.py``). This covers what nobody foresaw: a record that makes the worker raise
somewhere else, or crash outright. The worker fail-stops on a failed batch and is restarted, so the
count of failures has to outlive the process: :class:`BatchJournal` keeps, per worker instance, a
small JSON file of the positions (``topic:partition:offset``) in flight and how many times each was
taken without being acked. A batch holding a position that failed ``split_after`` times is processed
one record at a time; a record that still fails alone is dead-lettered (stage ``worker``), and one
that was being processed alone when the process died is dead-lettered on the next start without
being run again. ``ServiceUnavailable`` is never a record's fault: it still stops the worker.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from finsentry.deadletter import RawRecord, dead_letter
from finsentry.errors import ServiceUnavailable
from finsentry.guard import describe, guarded
from finsentry.schemas import DeadLetter
from stream.process import BatchResult

log = logging.getLogger(__name__)
MAX_ENTRIES = 10_000  # positions of partitions this worker lost in a rebalance must not pile up
STAGE = "worker"

Process = Callable[[Sequence[RawRecord]], Awaitable[BatchResult]]


def position(raw: RawRecord) -> str:
    """Where a record sits: ``topic:partition:offset``."""
    return f"{raw.topic}:{raw.partition}:{raw.offset}"


@dataclass
class Attempt:
    """What the journal knows of one position."""

    failures: int = 0  # times it was taken in a batch that was never acked
    alone: bool = False  # being processed on its own when the process last stopped
    last_error: str = ""


def journal_path(home: Path, instance_id: str | None) -> Path:
    """The journal of one worker instance under ``FINSENTRY_HOME`` (restarts keep the instance id)."""
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", instance_id or "worker")
    return home / "worker" / f"{name}.journal.json"


class BatchJournal:
    """Positions in flight and their failed attempts, in a file that survives a crash of the process.

    Written with a rename, so a crash leaves the old or the new version, never half of one. Losing
    it (unreadable, unwritable) only costs this protection, never data: it is logged and ignored.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, Attempt] = self._load()

    def _load(self) -> dict[str, Attempt]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            log.warning("batch journal %s unreadable (%s); starting empty", self.path, exc)
            return {}
        try:
            return guarded(_decode_entries, raw)
        except Exception as exc:  # noqa: BLE001 - a damaged journal must not stop the worker
            log.warning("batch journal %s damaged (%s); starting empty", self.path, describe(exc))
            return {}

    def _save(self) -> None:
        if len(self.entries) > MAX_ENTRIES:
            self.entries = dict(list(self.entries.items())[-MAX_ENTRIES:])
        tmp = self.path.with_suffix(".tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps({k: [v.failures, v.alone, v.last_error] for k, v in self.entries.items()}))
            os.replace(tmp, self.path)
        except OSError as exc:
            log.warning("batch journal %s not written (%s)", self.path, exc)

    def begin(self, raws: Sequence[RawRecord]) -> dict[str, Attempt]:
        """Count one more attempt for each position (on disk before processing); return the earlier state."""
        prior = {position(r): self.entries.get(position(r), Attempt()) for r in raws}
        for pos, attempt in prior.items():
            self.entries[pos] = Attempt(attempt.failures + 1, attempt.alone, attempt.last_error)
        self._save()
        return prior

    def failed(self, raws: Sequence[RawRecord], exc: BaseException) -> None:
        """Remember why the batch failed, for the dead letter of a record that keeps failing."""
        for r in raws:
            attempt = self.entries.setdefault(position(r), Attempt(failures=1))
            attempt.last_error = describe(exc)
        self._save()

    def alone(self, raw: RawRecord, on: bool) -> None:
        """Mark (on disk) that ``raw`` is now processed on its own, or no longer."""
        self.entries.setdefault(position(raw), Attempt(failures=1)).alone = on
        self._save()

    def done(self, raws: Sequence[RawRecord]) -> None:
        """The batch is acked: forget its positions and everything before them on their partitions."""
        acked: dict[str, int] = {}
        for r in raws:
            tp = f"{r.topic}:{r.partition}"
            acked[tp] = max(acked.get(tp, -1), r.offset if r.offset is not None else -1)
        for pos in list(self.entries):
            tp, _, offset = pos.rpartition(":")
            if tp in acked and (not offset.lstrip("-").isdigit() or int(offset) <= acked[tp]):
                del self.entries[pos]
        self._save()


def _decode_entries(raw: bytes) -> dict[str, Attempt]:
    data = json.loads(raw)
    return {str(k): Attempt(int(failures), bool(alone), str(error)) for k, (failures, alone, error) in data.items()}


async def run_batch(
    raws: Sequence[RawRecord], journal: BatchJournal, process: Process, split_after: int
) -> BatchResult:
    """Process a batch whole, or record by record once one of its positions failed ``split_after`` times.

    Raises:
        Exception: whatever made the batch fail (the caller fail-stops); split mode raises only
            ``ServiceUnavailable``.
    """
    prior = journal.begin(raws)
    worst = max((a.failures for a in prior.values()), default=0)
    if worst < split_after:
        return await process(raws)
    log.warning(
        "batch from %s failed %d times in a row: processing its %d records one at a time",
        position(raws[0]),
        worst,
        len(raws),
    )
    return await process_split(raws, prior, journal, process)


async def process_split(
    raws: Sequence[RawRecord], prior: dict[str, Attempt], journal: BatchJournal, process: Process
) -> BatchResult:
    """Each record alone; one that raises or crashed the process alone before becomes a dead letter.

    Raises:
        ServiceUnavailable: not the record's fault (a server is down): nothing is dead-lettered for it.
    """
    result = BatchResult()
    for raw in raws:
        attempt = prior[position(raw)]
        if attempt.alone:
            result.dead.append(_crashed(raw, attempt))
            continue
        journal.alone(raw, True)
        try:
            one = await process([raw])
            for record in (*one.scored, *one.dead):
                record.to_json_bytes()  # a record that cannot be sent on is this record's fault too
        except ServiceUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001 - alone, whatever it raises is its own doing
            reason = f"failed {attempt.failures} times, then alone: {describe(exc)}"
            log.warning("record %s dead-lettered: %s", position(raw), reason)
            result.dead.append(dead_letter(raw, STAGE, reason))
            continue
        finally:
            journal.alone(raw, False)
        result.scored += one.scored
        result.dead += one.dead
    return result


def _crashed(raw: RawRecord, attempt: Attempt) -> DeadLetter:
    reason = f"failed {attempt.failures} times, then stopped the worker while processed alone"
    if attempt.last_error:
        reason += f" (last error of its batch: {attempt.last_error})"
    log.warning("record %s dead-lettered without running it again: %s", position(raw), reason)
    return dead_letter(raw, STAGE, reason)
