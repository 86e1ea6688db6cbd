"""Poison pills from an outside producer, on the real broker and the real worker process."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from kafka import KafkaProducer

from finsentry import topics
from finsentry.broker import EmbeddedBroker, read_dead_letters
from finsentry.deadletter import KEEP_BYTES
from finsentry.ids import doc_id
from finsentry.protocols import SearchQuery
from finsentry.schemas import DeadLetter
from finsentry.store.sqlite import SqliteStore
from tests.stream.conftest import WorkerProcess, wait_until
from tests.stream.faulty_worker import CRASH_EXIT

SPLIT_AFTER = 3  # the worker.split_after_failures default

MIB = 1_048_576


def _good(nonce: str, n: int) -> bytes:
    return json.dumps(
        {"source": "e2e", "url": f"https://news.example.com/{nonce}/{n}", "title": f"$ACME beats ({nonce} {n})"}
    ).encode()


def _send(bootstrap: str, values: list[bytes]) -> None:
    """As any outside client would: kafka-python, none of our code, keys spread over partitions.

    Compressed: that is how a value over the broker's 1 MB limit gets onto the topic.
    """
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", max_request_size=2 * MIB, compression_type="gzip")
    for n, value in enumerate(values):
        producer.send(topics.RAW, key=f"k{n}".encode(), value=value).get(timeout=30)
    producer.close()


def _exited(worker: WorkerProcess) -> Callable[[], bool]:
    return lambda: worker.proc.poll() is not None


def _stored(store: SqliteStore, nonce: str) -> set[str]:
    return {d.id for d in store.search(SearchQuery(text=nonce, source="e2e", limit=1000))}


def _dead(bootstrap: str, nonce: str) -> list[DeadLetter]:
    return [d for d in read_dead_letters(bootstrap, idle_ms=1000) if nonce.encode() in d.original]


def _expect(
    broker: EmbeddedBroker, worker: WorkerProcess, tmp_path: Path, nonce: str, good: int, poison: int
) -> list[DeadLetter]:
    store = SqliteStore(tmp_path / "docs.db")
    want = {doc_id(f"https://news.example.com/{nonce}/{n}") for n in range(good)}
    try:
        wait_until(lambda: _stored(store, nonce) == want, 90, f"{good} stored documents")
        wait_until(lambda: len(_dead(broker.bootstrap, nonce)) >= poison, 30, f"{poison} dead letters")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; worker log:\n{''.join(worker.lines[-40:])}") from None
    time.sleep(1.0)  # a replay would add copies: give it the chance to show
    dead = _dead(broker.bootstrap, nonce)
    assert len(dead) == poison, [d.reason for d in dead]
    assert worker.proc.poll() is None, "the worker exited:\n" + "".join(worker.lines[-40:])
    assert not any("not durable" in line for line in worker.lines)
    return dead


def test_hostile_json_costs_one_dead_letter_each_and_the_worker_goes_on(
    broker: EmbeddedBroker, start_worker: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    nonce = uuid.uuid4().hex[:10]
    tag = json.dumps(nonce).encode()
    poison = {
        "nested arrays": b"[" * 200_000 + tag + b"]" * 200_000,
        "1 MiB of digits": b'{"source": "e2e", "title": ' + tag + b', "n": 1' + b"0" * (MIB - 60) + b"}",
        "nested objects": b'{"title": ' + tag + b', "k": ' + b'{"k":' * 100_000 + b"1" + b"}" * 100_001,
    }
    assert MIB - 100 < len(poison["1 MiB of digits"]) <= MIB
    worker = start_worker()
    _send(broker.bootstrap, [_good(nonce, n) for n in range(10)] + list(poison.values()))
    _send(broker.bootstrap, [_good(nonce, n) for n in range(10, 20)])  # after the poison
    dead = _expect(broker, worker, tmp_path, nonce, good=20, poison=3)
    by_value = {d.original: d for d in dead}  # over 256 KiB, a dead letter keeps the head
    poison = {k: v[:KEEP_BYTES] for k, v in poison.items()}
    assert set(by_value) == set(poison.values())
    assert {d.stage for d in dead} == {"parse"}
    assert "nested too deeply" in by_value[poison["nested arrays"]].reason
    assert "nested too deeply" in by_value[poison["nested objects"]].reason
    assert "number too long" in by_value[poison["1 MiB of digits"]].reason


def test_a_record_the_classifier_raises_on_costs_one_dead_letter(
    broker: EmbeddedBroker, start_worker: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    nonce = uuid.uuid4().hex[:10]
    marker = f"kaboom-{nonce}"
    worker = start_worker(command=("-m", "tests.stream.faulty_worker", marker))
    pill = json.dumps({"source": "e2e", "url": f"https://x.example.com/{nonce}", "title": marker}).encode()
    _send(broker.bootstrap, [*(_good(nonce, n) for n in range(10)), pill, *(_good(nonce, n) for n in range(10, 20))])
    (dead,) = _expect(broker, worker, tmp_path, nonce, good=20, poison=1)
    assert dead.original == pill
    assert (dead.stage, dead.reason) == ("score", f"classifier raised ZeroDivisionError: injected fault on {marker}")


def test_a_record_that_kills_the_worker_is_isolated_across_restarts_and_dead_lettered(
    broker: EmbeddedBroker,
    start_worker: Callable[..., WorkerProcess],
    pipeline_env: dict[str, str],
    tmp_path: Path,
) -> None:
    """Restarted as the supervisor would: three whole-batch crashes, one alone, then it is set aside."""
    pipeline_env["FINSENTRY_MODEL__CLASSIFIER_URL"] = "baseline://"  # starts in seconds; the model is not the point
    nonce = uuid.uuid4().hex[:10]
    marker = f"segfault-{nonce}"
    pill = json.dumps({"source": "e2e", "url": f"https://x.example.com/{nonce}", "title": marker}).encode()
    command = ("-m", "tests.stream.faulty_worker", marker, "crash")
    # One partition for all of it, so the pill always shares its batch with good records.
    values = [*(_good(nonce, n) for n in range(5)), pill, *(_good(nonce, n) for n in range(5, 10))]
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    for value in values:
        producer.send(topics.RAW, key=b"same-key", value=value).get(timeout=30)
    producer.close()
    crashes = 0
    worker = start_worker(command=command)
    while crashes <= SPLIT_AFTER:  # the first three in a batch, the fourth alone
        wait_until(_exited(worker), 60, f"crash {crashes + 1}")
        assert worker.proc.returncode == CRASH_EXIT
        crashes += 1
        worker = start_worker(command=command)
    (dead,) = _expect(broker, worker, tmp_path, nonce, good=10, poison=1)
    assert (dead.stage, dead.original) == ("worker", pill)
    assert dead.reason == f"failed {SPLIT_AFTER + 1} times, then stopped the worker while processed alone"
    assert any("processing its" in line and "one at a time" in line for line in worker.lines)
