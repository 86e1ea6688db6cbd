"""docker-compose.yml stays in step with the code it runs (no Docker engine needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from finsentry.app.cli import app
from finsentry.settings import Settings
from models.triton_client import TritonClassifier

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return loaded["services"]


def test_worker_environment_is_valid_settings(services: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    env = {k: str(v) for k, v in services["worker"]["environment"].items()}
    assert env == {k: str(v) for k, v in services["topics"]["environment"].items()}  # one block for both
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = Settings()  # extra="forbid": a misspelt FINSENTRY_ key fails here
    assert settings.kafka.bootstrap == "kafka:9092"
    assert settings.model.classifier_url.startswith("triton://triton:8001/")
    # The workers' classifier is built from that URL as the worker builds it (no server needed).
    TritonClassifier.from_url(settings.model.classifier_url, settings.home / "bases")


@pytest.mark.parametrize("service", ["topics", "worker", "alerts", "deliver"])
def test_service_commands_are_cli_commands(services: dict[str, Any], service: str) -> None:
    result = CliRunner().invoke(app, [*services[service]["command"], "--help"])
    assert result.exit_code == 0, result.output


def test_workers_wait_for_what_they_use(services: dict[str, Any]) -> None:
    needs = services["worker"]["depends_on"]
    assert {"topics", "triton"} <= set(needs)
    assert needs["topics"]["condition"] == "service_completed_successfully"
