"""``finsentry up``: the whole pipeline on one machine, supervised."""

from __future__ import annotations

import contextlib
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from alerts.service import DELIVERER_READY, DETECTOR_READY
from finsentry import metrics, topics
from finsentry.app.ops import bootstrap_of
from finsentry.app.rundir import RunDir
from finsentry.app.supervisor import Interrupted, Part, Supervisor
from finsentry.broker import KafkaInspector, ensure_topics, noida_argv, port_open, stop_stale_broker
from finsentry.errors import ConfigError, ServiceUnavailable
from finsentry.settings import Settings
from ingest.crawler import READY_LINE as CRAWLER_READY
from ingest.replay import DEMO_FEED
from models.serving import serve_model_argv
from stream.worker import READY_MARKER

IDLE_STATUS_EVERY_S = 60.0  # an unchanged status line is repeated this often, no more
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _model_part(settings: Settings) -> Part:
    """The Triton model server on the gRPC port that the classifier URL names."""
    url = urlsplit(settings.model.classifier_url)
    if url.scheme != "triton" or not url.port:
        raise ConfigError("model.serve needs classifier_url triton://127.0.0.1:PORT")
    grpc = url.port
    argv = serve_model_argv(grpc, grpc - 1, grpc + 1)
    # PyTriton keeps its files under PYTRITON_HOME (default ~/.cache): keep them in the home.
    env = {"PYTRITON_HOME": str(Path(settings.home) / "triton")}
    return Part("model", argv, ready_marker="serving finsentry", ready_check=lambda: port_open(grpc), env=env)


def _dashboard_ready(port: int) -> bool:
    import httpx

    try:
        return httpx.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def _dashboard_part(settings: Settings) -> Part:
    """Streamlit on the dashboard's port; ready when its health endpoint answers."""
    from finsentry.app.cli_dashboard import streamlit_argv

    port = settings.dashboard.port
    return Part("dashboard", streamlit_argv(settings), ready_check=lambda: _dashboard_ready(port))


def _broker_part(settings: Settings) -> Part:
    port = settings.kafka.port
    return Part("broker", noida_argv(Path(settings.home) / "broker", port), ready_check=lambda: port_open(port))


def _clear_leftovers(sup: Supervisor, run: RunDir, settings: Settings) -> None:
    """Stop what an earlier ``up`` of this home left running, then make sure the port is free.

    Raises:
        ServiceUnavailable: another program holds the broker's port.

    """
    for rec in run.stop_leftovers():
        sup.write("finsentry", f"stopped {rec.name} (pid {rec.pid}), left running by an earlier run of this home")
    if settings.kafka.bootstrap:
        return
    data = Path(settings.home) / "broker"
    stale = stop_stale_broker(data)
    if stale is not None:
        # Stop and start clean rather than adopt: an adopted server would have no supervisor.
        sup.write("finsentry", f"stopped a broker left running on {data} (pid {stale}); starting a fresh one")
    port = settings.kafka.port
    if port_open(port):
        raise ServiceUnavailable(
            f"port {port} is taken by another program (not this home's broker): stop it, "
            "or set FINSENTRY_KAFKA__PORT to a free port"
        )


class StatusGate:
    """Which status lines get printed: a change at once, an unchanged state once per ``idle_every``."""

    def __init__(self, idle_every: float = IDLE_STATUS_EVERY_S) -> None:
        self._idle_every = idle_every
        self._state: object = None
        self._printed_at = float("-inf")

    def __call__(self, state: object, line: str, now: float) -> str | None:
        """``line`` when it should be printed at ``now`` (monotonic seconds), else None."""
        if state == self._state and now - self._printed_at < self._idle_every:
            return None
        self._state, self._printed_at = state, now
        return line


class StatusLine:
    """Docs/s in and out since the last call, consumer lag, dead letters: on change, or once a minute."""

    def __init__(
        self,
        settings: Settings,
        idle_every: float = IDLE_STATUS_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._gate = StatusGate(idle_every)
        self._clock = clock
        self._last: tuple[float, tuple[int, int, int, int]] | None = None
        self._kafka: KafkaInspector | None = None

    def _counts(self) -> tuple[int, int, int, int]:
        self._kafka = self._kafka or KafkaInspector(bootstrap_of(self._settings))
        k = self._kafka
        lag = k.lag(self._settings.kafka.group, topics.RAW)
        metrics.CONSUMER_LAG.set(lag)
        return k.total(topics.RAW), k.total(topics.SCORED), lag, k.total(topics.DEAD_LETTER)

    def __call__(self) -> str | None:
        """One status line, or None when it would repeat the last one within the idle interval."""
        now = self._clock()
        try:
            counts = self._counts()
        except Exception as exc:  # noqa: BLE001 - reported on the status line, then retried
            if self._kafka is not None:
                with contextlib.suppress(Exception):
                    self._kafka.close()
            self._kafka = None
            return self._gate(("unavailable", str(exc)), f"unavailable: {exc}", now)
        raw, scored, lag, dead = counts
        totals = f"raw {raw} | scored {scored} | lag {lag} | dead letters {dead}"
        if self._settings.dashboard.enabled:
            totals += f" | dashboard {self._settings.dashboard.url}"
        last, self._last = self._last, (now, counts)
        if last is None:
            return self._gate(counts, totals, now)
        if last[1] == counts:
            return self._gate(counts, f"no new documents | {totals}", now)
        dt = max(now - last[0], 1e-6)
        rate_in, rate_out = (raw - last[1][0]) / dt, (scored - last[1][1]) / dt
        return self._gate(counts, f"in {rate_in:.1f} docs/s | out {rate_out:.1f} docs/s | {totals}", now)


def _start_parts(sup: Supervisor, settings: Settings, demo: bool, demo_rate: float) -> None:
    me = [sys.executable, "-m", "finsentry.app.cli"]
    if not settings.kafka.bootstrap:
        sup.start(_broker_part(settings))
    ensure_topics(bootstrap_of(settings), settings.kafka.partitions)
    sup.check_interrupted()
    if settings.model.serve:
        sup.start(_model_part(settings), timeout=180)
    for i in range(settings.worker.count):
        name = f"worker-{i + 1}"
        # A stable instance id per slot: a restarted worker takes its predecessor's place at once.
        part_env = {"FINSENTRY_WORKER__INSTANCE_ID": name}
        sup.start(Part(name, [*me, "worker"], ready_marker=READY_MARKER, env=part_env))
    # Alert detection and webhook delivery: stable instance ids so a restart takes its slot at once.
    sup.start(Part("alerts", [*me, "alerts", "detect"], ready_marker=DETECTOR_READY,
                   env={"FINSENTRY_ALERTS__INSTANCE_ID": "alerts-1"}))  # fmt: skip
    sup.start(Part("deliver", [*me, "alerts", "deliver"], ready_marker=DELIVERER_READY,
                   env={"FINSENTRY_WEBHOOKS__INSTANCE_ID": "deliver-1"}))  # fmt: skip
    if demo:
        argv = [*me, "ingest", "replay", str(DEMO_FEED), "--rate", str(demo_rate)]
        sup.start(Part("ingest", argv, oneshot=True))
    if settings.ingest.feeds is not None:  # crawling only when a feeds file is named
        sup.start(Part("crawler", [*me, "ingest", "run"], ready_marker=CRAWLER_READY))
    if settings.dashboard.enabled:  # after the feed: documents flow while Streamlit starts
        sup.start(_dashboard_part(settings), timeout=60)
        sup.write("finsentry", f"dashboard on {settings.dashboard.url}")


def run_up(settings: Settings, env: dict[str, str], demo: bool, demo_rate: float) -> int:
    """Start broker (unless external), topics, workers and the demo feed; block until signalled.

    Returns:
        The exit code: 0 after a stop signal once running, 128 + the signal's number when
        interrupted during start-up (130 for Ctrl-C), 1 when start-up failed or a part kept exiting.

    """
    env = {**env, "FINSENTRY_KAFKA__BOOTSTRAP": bootstrap_of(settings), "PYTHONUNBUFFERED": "1"}
    run = RunDir(Path(settings.home) / "run")
    sup = Supervisor(env, StatusLine(settings), settings.status_every, run_dir=run)
    for signum in STOP_SIGNALS:
        signal.signal(signum, sup.request_stop)
    try:
        run.lock()
        _clear_leftovers(sup, run, settings)
        _start_parts(sup, settings, demo, demo_rate)
        sup.write("finsentry", "pipeline up; Ctrl-C stops it")
        return sup.watch()
    except Interrupted as exc:
        sup.write("finsentry", f"start-up interrupted ({signal.Signals(exc.signum).name}); stopping what was started")
        return 128 + exc.signum
    except Exception as exc:  # noqa: BLE001 - report and stop everything cleanly
        sup.write("finsentry", f"start-up failed: {exc}")
        return 1
    finally:
        sup.stop_all()
        run.unlock()
