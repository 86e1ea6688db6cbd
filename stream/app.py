"""The Faust worker: consume ``news.raw`` in batches, score, store, emit; ack after the write."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import faust

from finsentry import metrics, topics
from finsentry.deadletter import RawRecord
from finsentry.proc import EXIT_TEMPFAIL
from finsentry.protocols import Classifier, DocumentStore, StoryIndex
from finsentry.settings import Settings
from stream.batching import micro_batches
from stream.idle import hold_empty_fetches
from stream.liveness import LagProbe, Liveness
from stream.poison import BatchJournal, journal_path, run_batch
from stream.process import BatchResult, process_batch

log = logging.getLogger(__name__)
EXIT_NOT_DURABLE = EXIT_TEMPFAIL  # try again later: a server is down, not this worker


def _raw(event: Any) -> RawRecord:
    msg = event.message
    return RawRecord(value=msg.value, topic=msg.topic, partition=msg.partition, offset=msg.offset)


async def emit(scored_topic: Any, dead_topic: Any, result: BatchResult) -> None:
    """Send outputs and wait until the broker has every one of them."""
    futures = [await scored_topic.send(key=d.id.encode(), value=d.to_json_bytes()) for d in result.scored]
    futures += [await dead_topic.send(key=d.id.encode(), value=d.to_json_bytes()) for d in result.dead]
    for dl in result.dead:
        log.warning("dead letter %s at %s:%s:%s: %s", dl.id, dl.source_topic, dl.partition, dl.offset, dl.reason)
    await asyncio.gather(*futures)


def _count(result: BatchResult, seconds: float) -> None:
    metrics.BATCH_SECONDS.observe(seconds)
    metrics.DOCS_STORED.inc(len(result.scored))
    for dl in result.dead:
        metrics.DEAD_LETTERS.labels(stage=dl.stage).inc()


def fail_stop(raws: Sequence[RawRecord], exc: BaseException) -> NoReturn:
    """Exit the process when a batch cannot be made durable.

    Continuing would ack later batches, and Faust can then commit past the failed one
    (it does when a partition has no committed offset yet). Exiting keeps the committed
    offset before the failed batch; the supervisor (or Docker) restarts the worker,
    which replays from there.
    """
    first = raws[0] if raws else None
    where = f"{first.topic}:{first.partition}:{first.offset}" if first else "?"
    log.critical(
        "batch from %s is not durable (%s: %s); stopping so no later offset is committed past it",
        where,
        type(exc).__name__,
        exc,
    )
    logging.shutdown()
    os._exit(EXIT_NOT_DURABLE)


def exit_stalled(lag: int | None, stall_s: float) -> NoReturn:
    """Exit when records wait on this worker's partitions and it finished no batch for ``stall_s``.

    Nothing is lost: offsets are committed only after the store write, and the fresh worker its
    supervisor starts resumes from them.
    """
    log.critical(
        "%s records wait on this worker's partitions and no batch finished for %.0f s; exiting for a restart",
        lag,
        stall_s,
    )
    logging.shutdown()
    os._exit(EXIT_NOT_DURABLE)


def watch_liveness(app: faust.App, settings: Settings, bootstrap: str) -> Liveness:
    """Add the timer that exits a stalled worker; returns the tracker its batches report to."""
    stall_s = settings.worker.stall_s
    liveness = Liveness(stall_s)
    probe = LagProbe(bootstrap, settings.kafka.group, topics.RAW)

    @app.timer(interval=min(5.0, stall_s / 3))
    async def watch() -> None:
        mine = [tp.partition for tp in app.consumer.assignment() if tp.topic == topics.RAW]
        lag = await asyncio.get_running_loop().run_in_executor(None, probe.lag, mine)
        if liveness.stalled(lag):
            exit_stalled(lag, stall_s)

    return liveness


def create_app(
    settings: Settings,
    bootstrap: str,
    classifier: Classifier,
    store: DocumentStore,
    stories: StoryIndex | None = None,
) -> faust.App:
    """Build the Faust app with its one agent.

    Offsets: the agent takes events without acking (``noack``, batched by
    :func:`stream.batching.micro_batches`) and acks each only
    after the store acknowledged the batch and the outputs were delivered, so Faust
    commits nothing that is not durable. A crash before that replays the batch, and
    idempotent upserts make the replay harmless. The batch journal (``stream/poison.py``)
    counts failed attempts across those restarts, so a batch that keeps failing is split
    and costs one record instead of the pipeline.
    """
    w = settings.worker
    hold_empty_fetches()  # an idle worker must not spin on a broker that answers empty fetches at once
    app = faust.App(
        settings.kafka.group,
        broker=f"kafka://{bootstrap}",
        web_enabled=False,
        store="memory://",
        datadir=str(Path(settings.home) / "faust"),
        topic_partitions=settings.kafka.partitions,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=1.0,
        # Short failure detection for real Kafka (Faust's default poll interval is 1000 s).
        # noida-db never evicts a dead member at all; static membership below handles that.
        broker_session_timeout=10.0,
        broker_rebalance_timeout=20.0,
        broker_max_poll_interval=60.0,
        # Static membership: a restarted worker takes over its dead predecessor's place at once.
        consumer_group_instance_id=w.instance_id,
        producer_max_request_size=4 * 1024 * 1024,
    )
    raw_topic = app.topic(topics.RAW, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
    scored_topic = app.topic(topics.SCORED, key_serializer="raw", value_serializer="raw")
    dead_topic = app.topic(topics.DEAD_LETTER, key_serializer="raw", value_serializer="raw")

    @app.agent(raw_topic, name="score")
    async def score(stream: Any) -> None:
        manual = stream.noack()  # acks are ours: after the batch is durable
        async for events in micro_batches(manual.events(), w.batch_size, w.batch_within):
            await handle(manual, events)

    journal = BatchJournal(journal_path(Path(settings.home), w.instance_id))
    liveness = watch_liveness(app, settings, bootstrap)

    async def process(raws: Sequence[RawRecord]) -> BatchResult:
        return await process_batch(raws, classifier, store, w.max_record_bytes, w.write_retries, stories)

    async def handle(stream: Any, events: Sequence[Any]) -> None:
        raws = [_raw(e) for e in events]
        metrics.DOCS_IN.inc(len(raws))
        started = time.perf_counter()
        liveness.batch_started()
        try:
            result = await run_batch(raws, journal, process, w.split_after_failures)
            await emit(scored_topic, dead_topic, result)
        except Exception as exc:  # noqa: BLE001 - whatever broke, this batch is not durable
            journal.failed(raws, exc)
            fail_stop(raws, exc)
        finally:
            liveness.batch_done()
        for event in events:
            await stream.ack(event)
        journal.done(raws)
        _count(result, time.perf_counter() - started)
        log.info("batch: %d in, %d stored, %d dead", len(events), len(result.scored), len(result.dead))

    return app
