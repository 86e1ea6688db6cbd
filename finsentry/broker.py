"""The Kafka side: an embedded noida-db broker for one machine, topic set-up, lag."""

from __future__ import annotations

import contextlib
import importlib.resources
import json
import logging
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from finsentry import topics
from finsentry.errors import ConfigError, ServiceUnavailable
from finsentry.proc import die_with, start_ticks, terminate
from finsentry.schemas import DeadLetter

log = logging.getLogger(__name__)


def wait_for_port(host: str, port: int, timeout: float) -> None:
    """Block until a TCP port accepts connections.

    Raises:
        ServiceUnavailable: still closed after ``timeout`` seconds.

    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise ServiceUnavailable(f"{host}:{port} did not open within {timeout:.0f}s")


def noida_binary() -> str:
    """Path of the noida-db server binary itself, not its ``noida-db`` Python launcher.

    The launcher runs the binary as its own child: a parent-death signal or a stop aimed at
    the launcher never reaches the server, which then outlives its supervisor.

    Raises:
        ConfigError: the package is not installed.

    """
    try:
        binary = Path(str(importlib.resources.files("noida_db").joinpath("noida-db")))
    except ModuleNotFoundError:
        raise ConfigError("noida-db is not installed: pip install noida-db==0.2.3") from None
    if not binary.is_file():
        raise ConfigError(f"noida-db's server binary is missing at {binary}: reinstall noida-db==0.2.3")
    if not os.access(binary, os.X_OK):
        raise ConfigError(f"noida-db's server binary {binary} is not executable")
    return str(binary)


def noida_argv(data_dir: Path, port: int) -> list[str]:
    """The command that serves Kafka on 127.0.0.1:``port`` with its data in ``data_dir``."""
    argv = [noida_binary(), "start", "--data-dir", str(data_dir), "--host", "127.0.0.1"]
    return [*argv, "--only", "kafka", "--kafka-port", str(port)]


def running_broker(data_dir: Path) -> int | None:
    """The pid of a noida-db server that holds ``data_dir`` now, else None.

    noida-db records its pid in ``noida.control.json`` in the data folder and refuses a second
    server there while that pid lives: a server left over from an earlier run (an orphan of a
    killed supervisor) blocks every new start until it is stopped.
    """
    try:
        pid = int(json.loads((data_dir / "noida.control.json").read_text())["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        exe = Path(os.readlink(f"/proc/{pid}/exe")).name
    except OSError:
        return None
    return pid if exe.startswith("noida-db") else None


def stop_stale_broker(data_dir: Path, grace: float = 10.0) -> int | None:
    """Stop a server left holding ``data_dir`` (its data is saved on SIGTERM).

    Returns:
        The pid stopped, or None when there was none.

    """
    pid = running_broker(data_dir)
    if pid is None:
        return None
    log.debug("stopping a noida-db server left over on %s (pid %d)", data_dir, pid)
    terminate(pid, grace, started=start_ticks(pid))
    return pid


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.3) -> bool:
    """Whether something accepts TCP connections on ``host:port`` now."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


class EmbeddedBroker:
    """A noida-db Kafka endpoint on 127.0.0.1 whose data lives in ``data_dir``.

    noida-db was chosen over Tansu because it keeps data across restarts (Tansu's
    durable engine needs an S3 server), reports correct end offsets (so lag is true),
    and joins consumer groups in 0.4 s instead of half a session timeout.
    """

    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir = data_dir
        self.port = port
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        """``host:port`` for clients."""
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs (for measuring its CPU and memory)."""
        return None if self._proc is None else self._proc.pid

    def start(self, timeout: float = 20.0) -> None:
        """Start the server and wait until it accepts connections."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cmd = noida_argv(self.data_dir, self.port)
        log.info("starting embedded broker on %s (data in %s)", self.bootstrap, self.data_dir)
        # The server's own log goes beside its data folder, for post-mortems.
        with Path(f"{self.data_dir}.log").open("ab") as log_file:
            # The server binary itself, in its own process group, dies with this process.
            self._proc = subprocess.Popen(
                cmd,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=die_with(os.getpid()),
            )
        try:
            wait_for_port("127.0.0.1", self.port, timeout)
        except ServiceUnavailable:
            self.stop()
            raise

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 10 s; data is saved by the server on the way down."""
        if self._proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._proc.pid, signal.SIGTERM)
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait()
        self._proc = None

    def __enter__(self) -> EmbeddedBroker:
        self.start()
        return self

    def __exit__(self, *exc: object | TracebackType) -> None:
        self.stop()


def ensure_topics(bootstrap: str, partitions: int, timeout: float = 30.0) -> None:
    """Create the pipeline's topics when missing (idempotent).

    Raises:
        ServiceUnavailable: the broker cannot be reached.

    """
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic
    from kafka.errors import KafkaError, TopicAlreadyExistsError

    if not reachable(bootstrap):
        raise ServiceUnavailable(f"no Kafka broker answers at {bootstrap}")
    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout * 1000))
    except KafkaError as exc:
        raise ServiceUnavailable(f"Kafka at {bootstrap} unreachable: {exc}") from exc
    try:
        missing = [t for t in topics.ALL if t not in set(admin.list_topics())]
        for name in missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # another process won the race
                admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        admin.close()


def reachable(bootstrap: str, timeout: float = 0.5) -> bool:
    """Whether any broker of ``host:port[,host:port]`` accepts a TCP connection within ``timeout``.

    A refused or unrouted address answers at once here, where a Kafka client keeps retrying
    with backoff for its whole bootstrap timeout.
    """
    for address in bootstrap.split(","):
        host, _, port = address.strip().rpartition(":")
        if host and port.isdigit() and port_open(int(port), host.strip("[]"), timeout):
            return True
    return False


# noida-db answers a fetch with nothing new at once, not after fetch.max.wait.ms as Kafka does: a
# client that asks again at once spins a core while it is idle. Consumers here wait after an empty
# answer instead: the worker's aiokafka fetcher IDLE_POLL_S, kafka-python consumers (alerts)
# IDLE_WAIT_S between polls of POLL_STEP_MS (it needs a few ms a poll to keep its group membership).
# Neither can grow for free: with 250 ms between polls, or 2 ms polls, a group of two alert
# detectors at times never finished a rebalance on noida-db and saw nothing.
IDLE_POLL_S = 0.05
IDLE_WAIT_S = 0.1
POLL_STEP_MS = 10


def poll_records(consumer: Any, timeout_ms: int) -> list[Any]:
    """The records of a kafka-python consumer's poll, waiting up to ``timeout_ms`` without spinning.

    Args:
        consumer: a subscribed ``KafkaConsumer``.
        timeout_ms: the longest to wait when nothing is there.

    """
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        # joining a group takes polls that wait for the answer: short steps only with partitions held
        step = POLL_STEP_MS if consumer.assignment() else max(0, int((deadline - time.monotonic()) * 1000))
        records = [m for batch in consumer.poll(timeout_ms=step).values() for m in batch]
        remaining = deadline - time.monotonic()
        if records or remaining <= 0:
            return records
        time.sleep(min(IDLE_WAIT_S, remaining))


class KafkaInspector:
    """Reads end offsets and committed group offsets, keeping one connection open."""

    def __init__(self, bootstrap: str, timeout: float = 5.0) -> None:
        """Connect to ``bootstrap``; each request gives up after ``timeout`` seconds.

        Raises:
            ServiceUnavailable: no broker answers there.

        """
        if not reachable(bootstrap):  # before importing the client: its import alone takes ~0.5 s
            raise ServiceUnavailable(f"no Kafka broker answers at {bootstrap}")
        from kafka import KafkaAdminClient, KafkaConsumer

        ms = int(timeout * 1000)
        opts = {"bootstrap_servers": bootstrap, "request_timeout_ms": ms, "bootstrap_timeout_ms": ms}
        try:
            self._consumer = KafkaConsumer(**opts)
            self._admin = KafkaAdminClient(**opts)
        except Exception as exc:
            raise ServiceUnavailable(f"Kafka at {bootstrap} unreachable: {exc}") from exc

    def end_offsets(self, topic: str) -> dict[int, int]:
        """Latest offset of each partition of ``topic`` (empty when it does not exist)."""
        from kafka import TopicPartition

        parts = self._consumer.partitions_for_topic(topic) or set()
        ends = self._consumer.end_offsets([TopicPartition(topic, p) for p in parts])
        return {tp.partition: off for tp, off in ends.items()}

    def total(self, topic: str) -> int:
        """Records ever written to ``topic`` (sum of end offsets)."""
        return sum(self.end_offsets(topic).values())

    def lag(self, group: str, topic: str) -> int:
        """Messages in ``topic`` that ``group`` has not committed yet."""
        return sum(self.partition_lag(group, topic).values())

    def partition_lag(self, group: str, topic: str) -> dict[int, int]:
        """Messages of each partition of ``topic`` that ``group`` has not committed yet."""
        committed = self._admin.list_group_offsets({group: None}).get(group, {})
        done = {tp.partition: meta.offset for tp, meta in committed.items() if tp.topic == topic}
        return {p: max(0, end - max(done.get(p, 0), 0)) for p, end in self.end_offsets(topic).items()}

    def close(self) -> None:
        """Close both clients."""
        self._consumer.close()
        self._admin.close()


def read_dead_letters(bootstrap: str, idle_ms: int = 2000) -> list[DeadLetter]:
    """Every record on the dead-letter topic, oldest first (read without a consumer group)."""
    from kafka import KafkaConsumer

    if not reachable(bootstrap):
        raise ServiceUnavailable(f"no Kafka broker answers at {bootstrap}")
    consumer = KafkaConsumer(
        topics.DEAD_LETTER,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        group_id=None,
        consumer_timeout_ms=idle_ms,
    )
    try:
        return [DeadLetter.model_validate_json(m.value) for m in consumer]
    finally:
        consumer.close()
