"""Shared fixtures: a real embedded broker per test session, settings and record factories."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from finsentry.broker import EmbeddedBroker, noida_binary, wait_for_port
from finsentry.settings import Settings

# Property tests judge behaviour, not speed: a cold or busy 2-core CI machine must not fail them.
settings.register_profile("finsentry", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("finsentry")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class CliProcess:
    """One child process (usually ``finsentry ...``) with its output collected; ready when ``marker`` appears."""

    def __init__(self, argv: list[str], env: dict[str, str], marker: str) -> None:
        from finsentry.proc import die_with_parent

        self.lines: list[str] = []
        self.ready = threading.Event()
        self.marker = marker
        self.proc = subprocess.Popen(
            argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            preexec_fn=die_with_parent,
        )  # fmt: skip
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace")
            self.lines.append(line)
            if self.marker in line:
                self.ready.set()

    def wait_ready(self, timeout: float = 60.0) -> CliProcess:
        if not self.ready.wait(timeout):
            raise AssertionError(f"not ready ({self.marker}):\n" + "".join(self.lines[-40:]))
        return self

    def stop(self, sig_kill: bool = False) -> None:
        if self.proc.poll() is None:
            self.proc.kill() if sig_kill else self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def skip_backlog(bootstrap: str, group: str, topic: str = "news.raw") -> None:
    """Commit a new consumer group's offsets at the end of ``topic``.

    The session broker keeps every record earlier tests sent; a test's fresh group would otherwise
    read all of them (Faust starts a group with no commits at the earliest offset) before its own.
    """
    from kafka import KafkaConsumer, TopicPartition
    from kafka.structs import OffsetAndMetadata

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        ends = consumer.end_offsets(parts)
        consumer.commit({tp: OffsetAndMetadata(off, "", -1) for tp, off in ends.items()})
    finally:
        consumer.close()


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    """A real noida-db Kafka endpoint on 127.0.0.1, started once and stopped at the end."""
    b = EmbeddedBroker(tmp_path_factory.mktemp("broker"), free_port())
    b.start()
    yield b
    b.stop()


class EmbeddedSearch:
    """noida-db's Elasticsearch endpoint on 127.0.0.1 (the official client works with it unchanged)."""

    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir, self.port = data_dir, port
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        argv = [noida_binary(), "start", "--data-dir", str(self.data_dir), "--host", "127.0.0.1"]
        argv += ["--only", "elasticsearch", "--elasticsearch-port", str(self.port)]
        with Path(f"{self.data_dir}.log").open("ab") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_for_port("127.0.0.1", self.port, 30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


@pytest.fixture(scope="session")
def search_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedSearch]:
    """A real Elasticsearch API (noida-db) for the test session; ``TEST_ES_URL`` is honoured by the store suite."""
    s = EmbeddedSearch(tmp_path_factory.mktemp("search") / "data", free_port())
    s.start()
    yield s
    s.stop()


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Settings rooted in a temp folder; keyword overrides are nested dicts."""

    def factory(**overrides: Any) -> Settings:
        base: dict[str, Any] = {
            "home": tmp_path,
            "store": {"url": f"sqlite:///{tmp_path}/docs.db"},
            "model": {"classifier_url": "baseline://", "registry": str(tmp_path / "models")},
        }
        for key, value in overrides.items():
            base[key] = {**base.get(key, {}), **value} if isinstance(value, dict) else value
        return Settings(**base)

    return factory


@pytest.fixture
def news_line() -> Callable[..., bytes]:
    """Factory for one raw news.raw value."""

    def factory(n: int = 0, **fields: Any) -> bytes:
        obj = {
            "source": "test-wire",
            "url": f"https://news.example.com/a/{n}",
            "title": f"$ACME shares jump {n}% after earnings beat",
        }
        obj.update(fields)
        return json.dumps(obj).encode()

    return factory
