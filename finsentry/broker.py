"""The Kafka side: an embedded noida-db broker for one machine, topic set-up, lag."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

from finsentry import topics
from finsentry.errors import ConfigError, ServiceUnavailable
from finsentry.proc import die_with_parent
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
    """Path of the ``noida-db`` launcher installed with this Python.

    Raises:
        ConfigError: the package is not installed.

    """
    here = Path(sys.executable).parent / "noida-db"
    found = str(here) if here.exists() else shutil.which("noida-db")
    if not found:
        raise ConfigError("noida-db is not installed: pip install noida-db==0.2.3")
    return found


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

    def start(self, timeout: float = 20.0) -> None:
        """Start the server and wait until it accepts connections."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cmd = [
            noida_binary(),
            "start",
            "--data-dir",
            str(self.data_dir),
            "--host",
            "127.0.0.1",
            "--only",
            "kafka",
            "--kafka-port",
            str(self.port),
        ]
        log.info("starting embedded broker on %s (data in %s)", self.bootstrap, self.data_dir)
        # The server's own log goes beside its data folder, for post-mortems.
        with Path(f"{self.data_dir}.log").open("ab") as log_file:
            # Own process group: `noida-db` is a launcher that spawns the real server, and
            # stopping must reach both.
            self._proc = subprocess.Popen(
                cmd,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=die_with_parent,
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


class KafkaInspector:
    """Reads end offsets and committed group offsets, keeping one connection open."""

    def __init__(self, bootstrap: str) -> None:
        from kafka import KafkaAdminClient, KafkaConsumer

        logging.getLogger("kafka.coordinator.consumer").setLevel(logging.ERROR)  # "no group_id" is on purpose
        try:
            self._consumer = KafkaConsumer(bootstrap_servers=bootstrap, request_timeout_ms=10000)
            self._admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
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
        committed = self._admin.list_group_offsets({group: None}).get(group, {})
        done = {tp.partition: meta.offset for tp, meta in committed.items() if tp.topic == topic}
        return sum(max(0, end - max(done.get(p, 0), 0)) for p, end in self.end_offsets(topic).items())

    def close(self) -> None:
        """Close both clients."""
        self._consumer.close()
        self._admin.close()


def read_dead_letters(bootstrap: str, idle_ms: int = 2000) -> list[DeadLetter]:
    """Every record on the dead-letter topic, oldest first (read without a consumer group)."""
    from kafka import KafkaConsumer

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
