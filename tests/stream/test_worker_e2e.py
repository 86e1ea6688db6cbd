"""The real worker on the real broker: good, duplicated and bad input; SIGKILL; two workers."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable
from pathlib import Path

from kafka import KafkaProducer

from finsentry import topics
from finsentry.broker import EmbeddedBroker, read_dead_letters
from finsentry.ids import doc_id
from finsentry.protocols import SearchQuery
from finsentry.schemas import DeadLetter
from finsentry.store.sqlite import SqliteStore
from ingest.replay import record_key, replay
from stream.app import EXIT_NOT_DURABLE
from tests.stream.conftest import WorkerProcess, wait_until


def _good(nonce: str, n: int) -> dict[str, str]:
    return {
        "source": "e2e",
        "url": f"https://news.example.com/{nonce}/{n}",
        "title": f"$ACME shares fall {n}% after profit warning ({nonce})",
    }


def _mine(store: SqliteStore, nonce: str) -> list[str]:
    """Ids of this test's documents (the broker, and so the raw topic, is shared by tests)."""
    return [d.id for d in store.search(SearchQuery(text=nonce, source="e2e", limit=10_000))]


def _dead_letters(bootstrap: str, nonce: str) -> list[DeadLetter]:
    return [d for d in read_dead_letters(bootstrap) if nonce.encode() in d.original]


def test_every_good_record_once_every_bad_one_dead_lettered(
    broker: EmbeddedBroker, start_worker: Callable[..., WorkerProcess], pipeline_env: dict[str, str], tmp_path: Path
) -> None:
    nonce = uuid.uuid4().hex[:10]
    good = [_good(nonce, n) for n in range(40)]
    lines = [json.dumps(g).encode() for g in good]
    lines += [json.dumps({**g, "url": g["url"] + "?utm_source=x"}).encode() for g in good[:10]]  # duplicates
    bad = {
        "malformed JSON": b'{"source": "e2e", "title": "' + nonce.encode() + b'"',
        "not UTF-8": b'{"source": "e2e", "title": "\xff\xfe ' + nonce.encode() + b'"}',
        "empty text": json.dumps({"source": "e2e", "url": f"https://x.com/{nonce}", "title": " "}).encode(),
        "record too large": json.dumps({**_good(nonce, 999), "body": "x" * 5_000_000}).encode(),
    }
    feed = tmp_path / "feed.jsonl"
    feed.write_bytes(b"\n".join(lines + list(bad.values())) + b"\n")
    start_worker()
    sent, dead_at_ingest = replay(feed, broker.bootstrap)
    assert (sent, dead_at_ingest) == (len(lines) + 3, 1)

    store = SqliteStore(tmp_path / "docs.db")
    wait_until(lambda: len(_mine(store, nonce)) == len(good), 60, "40 stored documents")
    wait_until(lambda: len(_dead_letters(broker.bootstrap, nonce)) >= 4, 30, "4 dead letters")
    docs = store.search(SearchQuery(text=nonce, limit=1000))
    assert sorted(d.id for d in docs) == sorted(doc_id(g["url"]) for g in good)
    for d in docs:
        assert d.sentiment in {"negative", "neutral", "positive"}
        assert d.topic and d.model_version and d.tickers == ["ACME"]
    reasons = {d.reason.split(":")[0] for d in _dead_letters(broker.bootstrap, nonce)}
    assert reasons == set(bad)
    shown = subprocess.run(
        [sys.executable, "-m", "finsentry.app.cli", "dead-letters", "--json", "--limit", "1000"],
        env=pipeline_env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    mine = [d for d in json.loads(shown) if nonce in d["original_preview"]]
    assert {d["stage"] for d in mine} == {"parse", "ingest"} and all(d["reason"] for d in mine)


def test_sigkill_mid_stream_then_restart_stores_every_record_once(
    broker: EmbeddedBroker, start_worker: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    nonce = uuid.uuid4().hex[:10]
    records = [json.dumps(_good(nonce, n)).encode() for n in range(1500)]

    def produce() -> None:
        producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", linger_ms=5)
        for value in records:
            producer.send(topics.RAW, key=record_key(value), value=value)
        producer.flush()
        producer.close()

    first = start_worker()
    store = SqliteStore(tmp_path / "docs.db")
    feeder = threading.Thread(target=produce)
    feeder.start()
    wait_until(lambda: len(_mine(store, nonce)) >= 200, 60, "the first worker to store some documents")
    first.proc.send_signal(signal.SIGKILL)
    first.proc.wait()
    killed_at = len(_mine(store, nonce))
    assert killed_at < len(records), "kill came too late to test anything"
    feeder.join()
    start_worker("w1")  # same instance id: takes the dead worker's place in the group
    wait_until(lambda: len(_mine(store, nonce)) == len(records), 120, "all records after restart")
    assert set(_mine(store, nonce)) == {doc_id(json.loads(r)["url"]) for r in records}


def test_two_workers_share_the_partitions(
    broker: EmbeddedBroker, start_worker: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    nonce = uuid.uuid4().hex[:10]
    a, b = start_worker("w1"), start_worker("w2")
    feed = tmp_path / "feed.jsonl"
    feed.write_text("\n".join(json.dumps(_good(nonce, n)) for n in range(400)) + "\n")
    replay(feed, broker.bootstrap)
    store = SqliteStore(tmp_path / "docs.db")
    wait_until(lambda: len(_mine(store, nonce)) == 400, 90, "400 stored documents")
    for w in (a, b):
        assert any("batch:" in line and "stored" in line for line in w.lines), "a worker never got work"


def test_store_failure_stops_the_worker_and_nothing_is_lost(
    broker: EmbeddedBroker, start_worker: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    nonce = uuid.uuid4().hex[:10]
    first_half = tmp_path / "a.jsonl"
    first_half.write_text("\n".join(json.dumps(_good(nonce, n)) for n in range(100)) + "\n")
    second_half = tmp_path / "b.jsonl"
    second_half.write_text("\n".join(json.dumps(_good(nonce, n)) for n in range(100, 200)) + "\n")
    worker = start_worker()
    store = SqliteStore(tmp_path / "docs.db")
    replay(first_half, broker.bootstrap)
    wait_until(lambda: len(_mine(store, nonce)) == 100, 60, "the first 100 documents")
    # Real fault at the store boundary: the table vanishes under the running worker.
    db = sqlite3.connect(str(tmp_path / "docs.db"))
    db.execute("ALTER TABLE docs RENAME TO docs_away")
    db.commit()
    replay(second_half, broker.bootstrap)
    wait_until(lambda: worker.proc.poll() is not None, 90, "the worker to fail-stop")
    assert worker.proc.returncode == EXIT_NOT_DURABLE
    assert any("not durable" in line for line in worker.lines)
    db.execute("ALTER TABLE docs_away RENAME TO docs")  # the outage is over
    db.commit()
    db.close()
    start_worker("w1")
    store = SqliteStore(tmp_path / "docs.db")
    expected = {doc_id(_good(nonce, n)["url"]) for n in range(100, 200)}
    wait_until(lambda: expected <= set(_mine(store, nonce)), 60, "the failed batches to be replayed")
