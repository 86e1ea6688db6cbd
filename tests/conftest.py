"""Shared fixtures: a real embedded broker per session, settings and record factories."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from finsentry.broker import EmbeddedBroker
from finsentry.settings import Settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    """A real noida-db Kafka endpoint on 127.0.0.1, started once and stopped at the end."""
    b = EmbeddedBroker(tmp_path_factory.mktemp("broker"), free_port())
    b.start()
    yield b
    b.stop()


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
