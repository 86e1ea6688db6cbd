"""What the inspection commands report: status, stats, search. Plain functions over the parts."""

from __future__ import annotations

from collections import Counter
from typing import Any

from finsentry import topics
from finsentry.broker import KafkaInspector
from finsentry.protocols import DocumentStore, SearchQuery
from finsentry.settings import Settings


def bootstrap_of(settings: Settings) -> str:
    """The external cluster when configured, else the embedded broker's address."""
    return settings.kafka.bootstrap or f"127.0.0.1:{settings.kafka.port}"


def broker_down(settings: Settings, error: object) -> str:
    """One line for a person: the broker does not answer, and what to do about it."""
    if settings.kafka.bootstrap:
        return f"the Kafka broker is down ({error}); check FINSENTRY_KAFKA__BOOTSTRAP"
    return f"the broker is down ({error}); start the pipeline with `finsentry up`"


def kafka_counts(settings: Settings, timeout: float = 5.0) -> dict[str, Any]:
    """Records per topic, consumer lag and dead letters, read from the broker.

    Raises:
        ServiceUnavailable: no broker answers (found out at once by a TCP connect).

    """
    bootstrap = bootstrap_of(settings)
    kafka = KafkaInspector(bootstrap, timeout)
    try:
        ends = {t: kafka.total(t) for t in topics.ALL}
        return {
            "bootstrap": bootstrap,
            "records": ends,
            "lag": kafka.lag(settings.kafka.group, topics.RAW),
            "dead_letters": ends[topics.DEAD_LETTER],
        }
    finally:
        kafka.close()


def current_model(settings: Settings) -> str | None:
    """The registry's current version (None when there is none)."""
    from finsentry.errors import ModelError
    from models.registry import ModelRegistry

    try:
        return ModelRegistry(settings.model.registry).current().name
    except ModelError:
        return None


def stats(store: DocumentStore, settings: Settings, with_kafka: bool = True) -> dict[str, Any]:
    """Counts by topic and sentiment, dead letters, model versions."""
    by_topic: Counter[str] = Counter()
    by_sentiment: Counter[str] = Counter()
    for row in store.counts(bucket_seconds=10**9):
        by_topic[row.topic] += row.count
        by_sentiment[row.sentiment] += row.count
    newest = store.search(SearchQuery(limit=1))
    out: dict[str, Any] = {
        "documents": sum(by_topic.values()),
        "by_topic": dict(by_topic.most_common()),
        "by_sentiment": dict(by_sentiment.most_common()),
        "newest_model_version": newest[0].model_version if newest else None,
        "current_model": current_model(settings),
        "classifier": settings.model.classifier_url,
    }
    if with_kafka:
        try:
            k = kafka_counts(settings)
            out["dead_letters"] = k["dead_letters"]
            out["lag"] = k["lag"]
        except Exception as exc:  # noqa: BLE001 - stats still useful with the broker down
            out["dead_letters"] = None
            out["kafka_error"] = str(exc)
    return out


def dead_letters_by_stage(settings: Settings, idle_ms: int = 500) -> dict[str, int]:
    """Dead letters per stage (parse, score, store, ...), read from the dead-letter topic."""
    from finsentry.broker import read_dead_letters

    return dict(Counter(d.stage for d in read_dead_letters(bootstrap_of(settings), idle_ms)))


def model_info(settings: Settings) -> dict[str, Any]:
    """The current version's name, weighted F1 per head, and its model card (empty when none)."""
    from finsentry.errors import ModelError
    from models.registry import HEADS, ModelRegistry

    try:
        current = ModelRegistry(settings.model.registry).current()
    except ModelError:
        return {"version": None, "metrics": {}, "card": ""}
    metrics = {head: current.f1(head) for head in HEADS if head in current.meta.get("metrics", {})}
    card = current.path / "card.md"
    return {
        "version": current.name,
        "metrics": metrics,
        "card": card.read_text(encoding="utf-8") if card.is_file() else "",
    }
