"""The Pipeline & model page on a real broker and the real registry, through the ``status``/``stats`` functions."""

from __future__ import annotations

import functools
from collections.abc import Callable

from kafka import KafkaProducer

from dashboard.backends import Backends, PipelineReads
from finsentry import topics
from finsentry.app import ops
from finsentry.broker import EmbeddedBroker, ensure_topics
from finsentry.deadletter import RawRecord, dead_letter
from finsentry.settings import Settings
from tests.dashboard.apptest import metrics, run_page, texts
from tests.dashboard.conftest import seed_docs


def test_throughput_dead_letters_and_model(
    make_backends: Callable[..., Backends], make_settings: Callable[..., Settings], broker: EmbeddedBroker
) -> None:
    settings = make_settings(kafka={"bootstrap": broker.bootstrap})
    ensure_topics(broker.bootstrap, 1)
    before = ops.dead_letters_by_stage(settings)
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap)
    for i, stage in enumerate(("parse", "parse", "store")):
        letter = dead_letter(RawRecord(f"bad {i}".encode(), topics.RAW, 0, i), stage, "test")
        producer.send(topics.DEAD_LETTER, letter.to_json_bytes())
    producer.flush()
    producer.close()
    reads = PipelineReads(
        kafka=functools.partial(ops.kafka_counts, settings),
        dead_letters=functools.partial(ops.dead_letters_by_stage, settings),
        model=functools.partial(ops.model_info, settings),
    )
    at = run_page(make_backends(seed_docs(), pipeline=reads), "pipeline")
    shown = metrics(at)
    assert int(shown["Dead letters"]) == sum(before.values()) + 3
    stages = at.dataframe[0].value
    counts = dict(zip(stages["stage"], stages["dead letters"], strict=True))
    assert counts["parse"] == before.get("parse", 0) + 2
    assert counts["store"] == before.get("store", 0) + 1
    model = ops.model_info(settings)
    assert shown["Current version"] == model["version"] is not None
    assert shown["Sentiment weighted F1"] == f"{model['metrics']['sentiment']:.3f}"
    assert "Model card" in [e.label for e in at.expander]
    assert "unavailable" not in texts(at)
