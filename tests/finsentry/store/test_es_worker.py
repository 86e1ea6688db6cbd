"""The real worker writing to a real Elasticsearch API that dies mid-stream and comes back."""

from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path

from kafka import KafkaProducer

from finsentry import topics
from finsentry.broker import EmbeddedBroker
from finsentry.ids import doc_id
from finsentry.protocols import SearchQuery
from ingest.replay import record_key
from tests.conftest import EmbeddedSearch, free_port
from tests.finsentry.store.conftest import make_es_store
from tests.stream.conftest import WorkerProcess, pipeline_env, wait_until

__all__ = ["pipeline_env"]  # the fixture, imported for this module's tests


def test_cluster_killed_under_a_running_worker_loses_and_duplicates_nothing(
    broker: EmbeddedBroker, pipeline_env: dict[str, str], tmp_path: Path
) -> None:
    nonce = uuid.uuid4().hex[:10]
    es = EmbeddedSearch(tmp_path / "es", free_port())
    es.start()
    prefix = f"w{nonce}"
    env = {
        **pipeline_env,
        "FINSENTRY_STORE__URL": es.url,
        "FINSENTRY_STORE__INDEX_PREFIX": prefix,
        "FINSENTRY_STORE__RETRY_SECONDS": "120",  # longer than the outage: the worker holds
    }
    records = [
        json.dumps({"source": "es-e2e", "url": f"https://news.example.com/{nonce}/{n}",
                    "title": f"$ACME shares fall {n}% after warning ({nonce})"}).encode()
        for n in range(600)
    ]  # fmt: skip

    def produce() -> None:
        producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", linger_ms=5)
        for i, value in enumerate(records):
            producer.send(topics.RAW, key=record_key(value), value=value)
            if i % 50 == 0:
                time.sleep(0.1)  # a stream, not one burst: the outage falls in the middle of it
        producer.flush()
        producer.close()

    worker = WorkerProcess(env, "w1")
    try:
        worker.wait_ready()
        reader = make_es_store(es.url, prefix)
        mine = lambda: {d.id for d in reader.search(SearchQuery(text=nonce, limit=10_000))}  # noqa: E731
        feeder = threading.Thread(target=produce)
        feeder.start()
        wait_until(lambda: len(mine()) >= 100, 90, "the first documents in the cluster")
        # SIGTERM: noida-db writes its Elasticsearch data to disk every few seconds, so a SIGKILL
        # loses writes it has acknowledged (measured); a real cluster syncs its translog per request.
        es.stop()
        time.sleep(4)
        assert worker.proc.poll() is None, "the worker must hold while the cluster is away"
        es.start()  # same data folder, same port
        feeder.join()
        expected = {doc_id(json.loads(r)["url"]) for r in records}
        try:
            wait_until(lambda: mine() == expected, 120, "every record after the cluster came back")
        except AssertionError as exc:
            raise AssertionError(f"{len(mine())} of {len(expected)}:\n{''.join(worker.lines[-30:])}") from exc
        assert reader.total() == len(records)  # nothing twice
        assert worker.proc.poll() is None
        assert any("retry" in line for line in worker.lines), "the outage was never noticed"
    finally:
        worker.stop()
        es.stop()
