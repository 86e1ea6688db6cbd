from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from kafka import KafkaConsumer

from finsentry import topics
from finsentry.broker import EmbeddedBroker, ensure_topics
from finsentry.schemas import NewsItem
from ingest.producer import KafkaSink


def test_every_item_acknowledged_keyed_by_id_through_a_small_buffer(broker: EmbeddedBroker) -> None:
    ensure_topics(broker.bootstrap, 2)
    source = f"wire-{uuid.uuid4().hex[:8]}"
    old = datetime(2020, 1, 1, tzinfo=UTC)
    items = [
        NewsItem(id=f"{source}-{i}", source=source, title=f"Headline {i} " + "x" * 500, fetched_at=old)
        for i in range(300)
    ]
    sink = KafkaSink(broker.bootstrap, buffer_bytes=65_536)  # ~100 records: three rounds of acknowledgements
    try:
        sink.send(items)
    finally:
        sink.close()
    consumer = KafkaConsumer(
        topics.RAW, bootstrap_servers=broker.bootstrap, auto_offset_reset="earliest", consumer_timeout_ms=3000
    )
    try:
        mine = {}
        for msg in consumer:
            value = json.loads(msg.value)
            if value["source"] == source:
                mine[msg.key.decode()] = value
    finally:
        consumer.close()
    assert set(mine) == {i.id for i in items}
    assert all(v["id"] == k for k, v in mine.items())
    assert all(datetime.fromisoformat(v["fetched_at"]) > old for v in mine.values())  # stamped when produced
