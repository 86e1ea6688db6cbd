"""``finsentry up``: the whole pipeline on one machine, supervised."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from finsentry import topics
from finsentry.app.ops import bootstrap_of
from finsentry.app.supervisor import Part, Supervisor
from finsentry.broker import KafkaInspector, ensure_topics, noida_binary, wait_for_port
from finsentry.errors import ConfigError
from finsentry.settings import Settings
from ingest.crawler import READY_LINE as CRAWLER_READY
from ingest.replay import DEMO_FEED
from models.serving import serve_model_argv
from stream.worker import READY_MARKER


def _port_open(port: int) -> bool:
    try:
        wait_for_port("127.0.0.1", port, 0.3)
        return True
    except Exception:  # noqa: BLE001 - any failure means "not yet"
        return False


def _model_part(settings: Settings) -> Part:
    """The Triton model server on the gRPC port that the classifier URL names."""
    url = urlsplit(settings.model.classifier_url)
    if url.scheme != "triton" or not url.port:
        raise ConfigError("model.serve needs classifier_url triton://127.0.0.1:PORT")
    grpc = url.port
    argv = serve_model_argv(grpc, grpc - 1, grpc + 1)
    return Part("model", argv, ready_marker="serving finsentry", ready_check=lambda: _port_open(grpc))


def _broker_part(settings: Settings) -> Part:
    port = settings.kafka.port
    return Part(
        "broker",
        [
            noida_binary(),
            "start",
            "--data-dir",
            str(Path(settings.home) / "broker"),
            "--host",
            "127.0.0.1",
            "--only",
            "kafka",
            "--kafka-port",
            str(port),
        ],
        ready_check=lambda: _port_open(port),
    )


class StatusLine:
    """Docs/s in and out since the last call, consumer lag, dead letters."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._last: tuple[float, int, int] | None = None
        self._kafka: KafkaInspector | None = None

    def __call__(self) -> str:
        """One status line."""
        self._kafka = self._kafka or KafkaInspector(bootstrap_of(self._settings))
        raw, scored = self._kafka.total(topics.RAW), self._kafka.total(topics.SCORED)
        dead = self._kafka.total(topics.DEAD_LETTER)
        lag = self._kafka.lag(self._settings.kafka.group, topics.RAW)
        now = time.monotonic()
        rate_in = rate_out = 0.0
        if self._last:
            dt = max(now - self._last[0], 1e-6)
            rate_in, rate_out = (raw - self._last[1]) / dt, (scored - self._last[2]) / dt
        self._last = (now, raw, scored)
        return (
            f"in {rate_in:.1f} docs/s | out {rate_out:.1f} docs/s | raw {raw} | scored {scored}"
            f" | lag {lag} | dead letters {dead}"
        )


def run_up(settings: Settings, env: dict[str, str], demo: bool, demo_rate: float) -> int:
    """Start broker (unless external), topics, workers and the demo feed; block until signalled."""
    me = [sys.executable, "-m", "finsentry.app.cli"]
    bootstrap = bootstrap_of(settings)
    env = {**env, "FINSENTRY_KAFKA__BOOTSTRAP": bootstrap, "PYTHONUNBUFFERED": "1"}
    sup = Supervisor(env, StatusLine(settings), settings.status_every)
    signal.signal(signal.SIGINT, sup.request_stop)
    signal.signal(signal.SIGTERM, sup.request_stop)
    try:
        if not settings.kafka.bootstrap:
            sup.start(_broker_part(settings))
        ensure_topics(bootstrap, settings.kafka.partitions)
        if settings.model.serve:
            sup.start(_model_part(settings), timeout=180)
        for i in range(settings.worker.count):
            name = f"worker-{i + 1}"
            # A stable instance id per slot: a restarted worker takes its predecessor's place at once.
            part_env = {"FINSENTRY_WORKER__INSTANCE_ID": name}
            sup.start(Part(name, [*me, "worker"], ready_marker=READY_MARKER, env=part_env))
        if demo:
            sup.start(Part("ingest", [*me, "ingest", "replay", str(DEMO_FEED), "--rate", str(demo_rate)], oneshot=True))
        if settings.ingest.feeds is not None:  # crawling only when a feeds file is named
            sup.start(Part("crawler", [*me, "ingest", "run"], ready_marker=CRAWLER_READY))
        sup.write("finsentry", "pipeline up; Ctrl-C stops it")
        sup.watch()
        return 0
    except Exception as exc:  # noqa: BLE001 - report and stop everything cleanly
        sup.write("finsentry", f"start-up failed: {exc}")
        return 1
    finally:
        sup.stop_all()
