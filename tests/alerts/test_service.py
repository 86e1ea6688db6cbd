"""The detector's loop against the real broker: a commit refused after a rebalance is not an outage."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kafka import KafkaProducer, TopicPartition
from kafka.errors import CommitFailedError

from alerts.detect import Detector
from alerts.rules import load_rules
from alerts.service import commit_batch, make_consumer, run_detector
from finsentry import topics
from finsentry.broker import EmbeddedBroker, ensure_topics
from finsentry.schemas import ScoredDoc
from tests.alerts.conftest import T0, Stores
from tests.alerts.headlines import burst_rules
from tests.conftest import skip_backlog


class RefusedCommits:
    """A real consumer whose first ``refuse`` commits fail as the broker fails them after a rebalance.

    A real rebalance in the middle of a batch depends on timing a test cannot hold; the refusal
    it causes is what the loop has to survive.
    """

    def __init__(self, inner: Any, refuse: int = 1) -> None:
        self.inner, self.refuse, self.commits = inner, refuse, 0

    def commit(self) -> None:
        if self.refuse > 0:
            self.refuse -= 1
            raise CommitFailedError("injected: [Error 22] IllegalGenerationError")
        self.inner.commit()
        self.commits += 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _committed_all(consumer: Any) -> bool:
    parts = [TopicPartition(topics.SCORED, p) for p in consumer.partitions_for_topic(topics.SCORED) or ()]
    ends = consumer.end_offsets(parts)
    return all((consumer.committed(tp) or 0) >= end for tp, end in ends.items())


def _send(bootstrap: str, docs: list[ScoredDoc]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for d in docs:
        producer.send(topics.SCORED, key=d.id.encode(), value=d.to_json_bytes())
    producer.flush()
    producer.close()


def test_commit_batch_reports_a_refused_commit_instead_of_raising(broker: EmbeddedBroker) -> None:
    ensure_topics(broker.bootstrap, 4)
    consumer = RefusedCommits(make_consumer(topics.SCORED, broker.bootstrap, f"c-{uuid.uuid4().hex[:8]}"))
    try:
        assert commit_batch(consumer) is False
        assert commit_batch(consumer) is True and consumer.commits == 1
    finally:
        consumer.inner.close()


def test_the_detector_goes_on_after_a_refused_commit_and_commits_the_next_batch(
    broker: EmbeddedBroker, stores: Stores, make_doc: Callable[..., ScoredDoc], tmp_path: Path
) -> None:
    ensure_topics(broker.bootstrap, 4)
    group = f"d-{uuid.uuid4().hex[:8]}"
    skip_backlog(broker.bootstrap, group, topics.SCORED)
    rules = tmp_path / "rules.yaml"
    rules.write_text(burst_rules("refused-commit"))
    detector = Detector(load_rules(rules), stores.docs, stores.alerts, clock=lambda: T0)
    consumer = RefusedCommits(make_consumer(topics.SCORED, broker.bootstrap, group))
    stop, ready = threading.Event(), threading.Event()
    loop = threading.Thread(target=run_detector, args=(detector, consumer, stop), kwargs={"out": lambda _: ready.set()})
    loop.start()
    try:
        assert ready.wait(30), "the detector never got its partitions"
        _send(broker.bootstrap, [make_doc(T0, ticker="RFSD") for _ in range(3)])
        deadline = time.monotonic() + 20
        while consumer.refuse and time.monotonic() < deadline:
            time.sleep(0.05)
        assert consumer.refuse == 0, "the first batch never reached its commit"
        assert loop.is_alive(), "a refused commit ended the detector"
        _send(broker.bootstrap, [make_doc(T0, ticker="RFSD") for _ in range(2)])
        while not (consumer.commits and _committed_all(consumer.inner)):
            assert time.monotonic() < deadline + 20, "the next batch was never committed"
            time.sleep(0.1)
    finally:
        stop.set()
        loop.join(30)
        consumer.inner.close()
    assert not loop.is_alive()
