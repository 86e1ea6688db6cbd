"""The last line of defence: failures counted across restarts, a batch that keeps failing split."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from finsentry.deadletter import RawRecord, dead_letter
from finsentry.errors import ServiceUnavailable
from stream.poison import BatchJournal, journal_path, run_batch
from stream.process import BatchResult

SPLIT_AFTER = 3


def raws(n: int, partition: int = 0, first: int = 100) -> list[RawRecord]:
    return [RawRecord(f"record {i}".encode(), "news.raw", partition, first + i) for i in range(n)]


class Pipeline:
    """Stands in for process_batch: 'stores' each record, raises while a chosen record is in the batch."""

    def __init__(self, poison: set[int], error: Exception | None = None) -> None:
        self.poison, self.error = poison, error or RecursionError("maximum recursion depth exceeded")
        self.batches: list[list[int | None]] = []

    async def __call__(self, batch: Sequence[RawRecord]) -> BatchResult:
        self.batches.append([r.offset for r in batch])
        if any(r.offset in self.poison for r in batch):
            raise self.error
        return BatchResult(dead=[dead_letter(r, "ok", "stands for a stored record") for r in batch])


def attempt(path: Path, batch: list[RawRecord], pipeline: Pipeline) -> BatchResult | BaseException:
    """One run of a worker process: a fresh journal from disk, the batch, ack or failure."""
    journal = BatchJournal(path)
    try:
        result = asyncio.run(run_batch(batch, journal, pipeline, SPLIT_AFTER))
    except Exception as exc:  # noqa: BLE001 - the worker would fail-stop here
        journal.failed(batch, exc)
        return exc
    journal.done(batch)
    return result


def test_a_batch_failing_n_times_is_split_and_only_the_poison_record_is_dead_lettered(tmp_path: Path) -> None:
    path = journal_path(tmp_path, "worker-1")
    batch = raws(5)
    pipeline = Pipeline(poison={102})
    outcomes = [attempt(path, batch, pipeline) for _ in range(SPLIT_AFTER)]
    assert all(isinstance(o, RecursionError) for o in outcomes)  # whole-batch failures, across "restarts"
    result = attempt(path, batch, pipeline)
    assert isinstance(result, BatchResult)
    assert pipeline.batches[SPLIT_AFTER:] == [[100], [101], [102], [103], [104]]
    poisoned = [d for d in result.dead if d.stage == "worker"]
    assert [d.offset for d in poisoned] == [102]
    assert poisoned[0].reason == "failed 3 times, then alone: RecursionError: maximum recursion depth exceeded"
    assert [d.offset for d in result.dead if d.stage == "ok"] == [100, 101, 103, 104]
    assert json.loads(path.read_text()) == {}  # acked: nothing left in flight


def test_failures_are_counted_per_position_so_batch_boundaries_may_move(tmp_path: Path) -> None:
    path = journal_path(tmp_path, "w")
    pipeline = Pipeline(poison={103})
    for batch in (raws(5), raws(3, first=102), raws(6, first=101)):  # re-taken with other boundaries
        assert isinstance(attempt(path, batch, pipeline), RecursionError)
    result = attempt(path, raws(2, first=103), pipeline)
    assert isinstance(result, BatchResult) and [d.offset for d in result.dead if d.stage == "worker"] == [103]


def test_a_batch_that_succeeds_resets_the_count(tmp_path: Path) -> None:
    path = journal_path(tmp_path, "w")
    batch = raws(4)
    flaky = Pipeline(poison={101})
    for _ in range(SPLIT_AFTER - 1):
        attempt(path, batch, flaky)
    flaky.poison = set()  # the fault went away before the threshold
    assert isinstance(attempt(path, batch, flaky), BatchResult)
    flaky.poison = {101}
    assert isinstance(attempt(path, batch, flaky), RecursionError)  # one failure again, not split
    assert len(flaky.batches[-1]) == 4


def test_service_unavailable_in_split_mode_stops_and_dead_letters_nothing(tmp_path: Path) -> None:
    path = journal_path(tmp_path, "w")
    batch = raws(3)
    down = Pipeline(poison={100, 101, 102}, error=ServiceUnavailable("store write failed after 6 attempts"))
    for _ in range(SPLIT_AFTER + 2):
        assert isinstance(attempt(path, batch, down), ServiceUnavailable)
    assert down.batches[-1] == [100]  # split mode, stopped at the first record
    down.poison = set()  # the store is back: every record goes through, none dead-lettered
    result = attempt(path, batch, down)
    assert isinstance(result, BatchResult) and {d.stage for d in result.dead} == {"ok"}


def test_a_damaged_or_missing_journal_costs_only_the_protection(tmp_path: Path) -> None:
    path = journal_path(tmp_path, "a/b c")
    assert path.name == "a_b_c.journal.json"
    path.parent.mkdir(parents=True)
    path.write_bytes(b'{"news.raw:0:1": ["x", false')
    journal = BatchJournal(path)
    assert journal.entries == {}
    journal.begin(raws(1))
    assert json.loads(path.read_text())["news.raw:0:100"][0] == 1


def test_acking_forgets_earlier_positions_of_the_same_partition_only(tmp_path: Path) -> None:
    journal = BatchJournal(journal_path(tmp_path, "w"))
    journal.begin(raws(2, partition=0, first=10))  # never acked: the batch went elsewhere, then past
    journal.begin(raws(2, partition=1, first=10))
    journal.done(raws(2, partition=0, first=20))
    assert sorted(BatchJournal(journal.path).entries) == ["news.raw:1:10", "news.raw:1:11"]


CRASHING_WORKER = textwrap.dedent(
    """
    import asyncio, json, os, sys
    from finsentry.deadletter import RawRecord, dead_letter
    from stream.poison import BatchJournal, run_batch
    from stream.process import BatchResult

    async def pipeline(batch):
        if any(r.offset == 2 for r in batch):
            os._exit(70)  # a hard crash: no exception, no finally, no journal update
        return BatchResult(dead=[dead_letter(r, "ok", "stored") for r in batch])

    journal = BatchJournal(__import__("pathlib").Path(sys.argv[1]))
    batch = [RawRecord(b"r%d" % i, "news.raw", 0, i) for i in range(4)]
    result = asyncio.run(run_batch(batch, journal, pipeline, 3))
    journal.done(batch)
    sys.stdout.write(json.dumps([[d.offset, d.stage, d.reason] for d in result.dead]))
    """
)


def test_a_record_that_crashes_the_process_alone_is_dead_lettered_without_running_again(
    tmp_path: Path, run_python: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    path = tmp_path / "journal.json"
    codes = [run_python(CRASHING_WORKER, str(path)).returncode for _ in range(4)]
    assert codes == [70, 70, 70, 70]  # three whole-batch crashes, then the crash of record 2 alone
    assert json.loads(path.read_text())["news.raw:0:2"][1] is True
    last = run_python(CRASHING_WORKER, str(path))
    assert last.returncode == 0, last.stderr
    dead = json.loads(last.stdout)
    assert [(o, s) for o, s, _ in dead] == [(0, "ok"), (1, "ok"), (2, "worker"), (3, "ok")]
    assert dead[2][2] == "failed 4 times, then stopped the worker while processed alone"


@pytest.fixture
def run_python() -> Callable[..., subprocess.CompletedProcess[str]]:
    def run(code: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60)

    return run
