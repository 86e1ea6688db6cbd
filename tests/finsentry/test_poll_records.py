"""poll_records against the real embedded broker: records arrive, and an idle wait does not spin."""

from __future__ import annotations

from typing import Any

from finsentry.broker import IDLE_WAIT_S, EmbeddedBroker, ensure_topics, poll_records


class CountingConsumer:
    """A real consumer whose polls are counted."""

    def __init__(self, consumer: Any) -> None:
        self.consumer, self.polls = consumer, 0

    def poll(self, timeout_ms: int) -> Any:
        self.polls += 1
        return self.consumer.poll(timeout_ms=timeout_ms)

    def assignment(self) -> Any:
        return self.consumer.assignment()


def test_idle_waits_ask_the_broker_a_few_times_and_records_still_arrive(broker: EmbeddedBroker) -> None:
    from kafka import KafkaConsumer, KafkaProducer

    ensure_topics(broker.bootstrap, 4)
    topic = "poll-records-test"
    consumer = KafkaConsumer(topic, bootstrap_servers=broker.bootstrap, group_id=None, auto_offset_reset="earliest")
    counting = CountingConsumer(consumer)
    try:
        poll_records(counting, 1000)  # partitions assigned
        counting.polls = 0
        assert poll_records(counting, 1000) == []
        # a plain poll asked the broker thousands of times a second; waiting between polls, ~10 times
        assert counting.polls <= 1 / IDLE_WAIT_S + 5
        producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
        producer.send(topic, b"hello").get(timeout=30)
        producer.close()
        got: list[Any] = []
        for _ in range(20):
            got += poll_records(counting, 500)
            if got:
                break
        assert [m.value for m in got] == [b"hello"]
    finally:
        consumer.close()
