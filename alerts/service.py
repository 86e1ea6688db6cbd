"""The two long-running alert processes: the detector on ``news.scored`` and the deliverer on ``alerts``.

Both commit their consumer offsets only after what a batch caused is durable: the detector after
each change is on the ``alerts`` topic (acknowledged) and in the alert store, the deliverer after the
deliveries are stored. A crash replays the batch; deterministic ids make the replay harmless.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from alerts.deliver import Deliverer
from alerts.detect import Change, Detector
from finsentry import topics
from finsentry.broker import poll_records
from finsentry.errors import InvalidRecord
from finsentry.schemas import Alert, ScoredDoc

log = logging.getLogger(__name__)
DETECTOR_READY = "alert detector ready"
DELIVERER_READY = "webhook deliverer ready"
EVENT_HEADER = "event"


def make_consumer(topic: str, bootstrap: str, group: str, instance_id: str | None = None) -> Any:
    """A kafka-python consumer that commits only when told; ``instance_id`` makes membership static."""
    from kafka import KafkaConsumer

    return KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        group_instance_id=instance_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=10_000,
        max_poll_interval_ms=120_000,
        max_poll_records=500,
    )


def parse_scored(value: bytes) -> ScoredDoc:
    """A ``news.scored`` value.

    Raises:
        InvalidRecord: not a ScoredDoc.

    """
    try:
        return ScoredDoc.model_validate_json(value)
    except ValueError as exc:
        raise InvalidRecord(f"not a scored document: {str(exc)[:200]}") from None


class AlertPublisher:
    """Puts changes on the ``alerts`` topic and waits for the broker's acknowledgement."""

    def __init__(self, bootstrap: str) -> None:
        from kafka import KafkaProducer

        self._producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)

    def __call__(self, change: Change) -> None:
        """Send one change (key = alert id, header ``event``) and block until acknowledged."""
        headers = [(EVENT_HEADER, change.event.encode())]
        fut = self._producer.send(
            topics.ALERTS, key=change.alert.id.encode(), value=change.alert.to_json_bytes(), headers=headers
        )
        fut.get(timeout=30)

    def close(self) -> None:
        """Flush and close."""
        self._producer.close(timeout=10)


def commit_batch(consumer: Any) -> bool:
    """Commit the consumer's position after a batch; False when the group rebalanced meanwhile.

    A member that joins or leaves while a batch is processed moves the group to a new
    generation, and the broker refuses the old generation's commit. That is no outage: the
    batch's partitions resume from their last commit under the new assignment, and whichever
    member holds them processes the batch again, which the deterministic alert and delivery ids
    make harmless. Exiting instead would leave the partitions with a member that is gone.
    """
    from kafka.errors import CommitFailedError, RebalanceInProgressError

    try:
        consumer.commit()
    except (CommitFailedError, RebalanceInProgressError) as exc:
        log.warning("the group rebalanced during a batch; it will be processed again (%s)", exc)
        return False
    return True


def detect_batch(detector: Detector, values: list[bytes]) -> list[Change]:
    """Evaluate every window a batch of ``news.scored`` values touches."""
    docs = []
    for v in values:
        try:
            docs.append(parse_scored(v))
        except InvalidRecord as exc:
            log.warning("skipping a news.scored record: %s", exc)
    changes = [detector.evaluate(t) for t in detector.targets(docs)]
    return [c for c in changes if c is not None]


def run_detector(
    detector: Detector,
    consumer: Any,
    stop: threading.Event,
    tick_every_s: float = 1.0,
    out: Callable[[str], None] = log.info,
) -> None:
    """Consume ``news.scored`` until ``stop``; offsets are committed after the changes are durable.

    Only the instance that holds partition 0 runs the clock-driven checks (resolve, repeat), so
    several instances never resolve or repeat the same alert twice.
    """
    last_tick, ready = 0.0, False
    while not stop.is_set():
        msgs = poll_records(consumer, 500)
        if not ready and consumer.assignment():
            out(DETECTOR_READY)  # partitions assigned: what arrives from now on is seen
            ready = True
        if msgs:
            detect_batch(detector, [m.value for m in msgs])
            commit_batch(consumer)
        if time.monotonic() - last_tick >= tick_every_s and any(tp.partition == 0 for tp in consumer.assignment()):
            detector.tick()
            last_tick = time.monotonic()


def parse_change(value: bytes, headers: list[tuple[str, bytes]] | None) -> Change:
    """An ``alerts`` record back into a change.

    Raises:
        InvalidRecord: not an Alert.

    """
    event = dict(headers or {}).get(EVENT_HEADER, b"alert.updated").decode("utf-8", "replace")
    try:
        return Change(Alert.model_validate_json(value), event)
    except ValueError as exc:
        raise InvalidRecord(f"not an alert: {str(exc)[:200]}") from None


def run_deliverer(
    deliverer: Deliverer,
    consumer: Any,
    stop: threading.Event,
    group_wait_s: float,
    out: Callable[[str], None] = log.info,
) -> None:
    """Turn alert changes into deliveries (grouped over ``group_wait_s``) and send the due ones."""
    held: list[Change] = []
    first_at, ready = 0.0, False
    while not stop.is_set():
        msgs = poll_records(consumer, 200)
        if not ready and consumer.assignment():
            out(DELIVERER_READY)
            ready = True
        for m in msgs:
            try:
                change = parse_change(m.value, m.headers)
            except InvalidRecord as exc:
                log.warning("skipping an alerts record: %s", exc)
                continue
            if change.event != "alert.updated":
                first_at = first_at if held else time.monotonic()
                held.append(change)
        if held and time.monotonic() - first_at >= group_wait_s:
            deliverer.enqueue(held)
            commit_batch(consumer)  # deliveries are stored: the changes may leave the topic's backlog
            held = []
        elif msgs and not held:
            commit_batch(consumer)
        deliverer.send_due()
