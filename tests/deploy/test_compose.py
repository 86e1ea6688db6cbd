"""docker-compose.yml, the Dockerfile and deploy/ stay in step with the code they run (no Docker engine needed)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from finsentry.app.cli import app
from finsentry.app.cli_settings import env_example
from finsentry.settings import Settings
from models.serving import MODEL_NAME
from models.triton_client import TritonClassifier

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
_VAR = re.compile(r"\$\{(\w+)(?::?[-?]([^}]*))?\}")


def interpolate(value: str) -> str:
    """Compose's ${VAR:-default} / ${VAR:?message} with nothing set: the default, or a stand-in secret."""
    return _VAR.sub(lambda m: m.group(2) if m.group(0).find(":-") > 0 else "test-secret", value)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return loaded


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = compose["services"]
    return result


def finsentry_services(services: dict[str, Any]) -> dict[str, Any]:
    return {name: svc for name, svc in services.items() if "build" in svc}


def service_env(svc: dict[str, Any]) -> dict[str, str]:
    return {k: interpolate(str(v)) for k, v in svc.get("environment", {}).items()}


def test_every_image_is_pinned(services: dict[str, Any]) -> None:
    for name, svc in services.items():
        image = svc.get("image", "")
        assert image, f"{name} has no image"
        tag = image.rsplit(":", 1)[-1] if ":" in image.split("/")[-1] else ""
        assert "@sha256:" in image or re.search(r"\d", interpolate(tag)), f"{name}: image {image!r} is not pinned"
        assert "latest" not in image, name
    froms = re.findall(r"^FROM\s+(\S+)", DOCKERFILE.read_text(), re.MULTILINE)
    assert froms and all(re.search(r":\d+\.\d+\.\d+", f) for f in froms), froms


def test_dockerfile_runs_unprivileged_with_a_health_check() -> None:
    text = DOCKERFILE.read_text()
    assert text.count("FROM ") >= 2, "multi-stage: only the runtime goes into the final image"
    final = text.rsplit("FROM ", 1)[1]
    assert re.search(r"^USER\s+(?!root)\w+", final, re.MULTILINE)
    assert "HEALTHCHECK" in final
    assert (ROOT / ".dockerignore").exists()
    for package in ("finsentry", "ingest", "stream", "models", "alerts", "dashboard"):
        assert f"COPY {package} " in text, package


def test_long_running_services_have_health_checks_and_one_shots_do_not_restart(services: dict[str, Any]) -> None:
    for name, svc in services.items():
        one_shot = svc.get("restart") == "no"
        check = svc.get("healthcheck", {})
        if one_shot:
            continue
        # finsentry services inherit the image's HEALTHCHECK (metrics port /healthz) unless overridden
        assert check.get("test") or ("build" in svc and not check.get("disable")), f"{name} has no health check"


def test_dependencies_wait_for_health_or_completion(services: dict[str, Any]) -> None:
    for name, svc in services.items():
        needs = svc.get("depends_on", {})
        assert isinstance(needs, dict), f"{name}: depends_on must name conditions"
        for other, cond in needs.items():
            assert other in services, f"{name} depends on unknown {other}"
            assert cond["condition"] in ("service_healthy", "service_completed_successfully"), (name, other)
    worker = services["worker"]["depends_on"]
    assert {"topics", "index-init", "triton"} <= set(worker)


def test_finsentry_environments_are_valid_settings(services: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    for name, svc in finsentry_services(services).items():
        with monkeypatch.context() as m:
            for key, value in service_env(svc).items():
                m.setenv(key, value)
            settings = Settings()  # extra="forbid": a misspelt FINSENTRY_ key fails here
            assert settings.kafka.bootstrap == "kafka:9092", name
            assert settings.store.url == "http://elasticsearch:9200", name
            assert settings.store.password is not None, f"{name}: the store password comes from .env"
            assert settings.metrics.port == 9100 and settings.metrics.address == "0.0.0.0", name
            TritonClassifier.from_url(settings.model.classifier_url, settings.home / "bases")


def test_secrets_are_never_written_in_the_file() -> None:
    text = COMPOSE.read_text()
    for line in text.splitlines():
        if re.search(r"(PASSWORD|API_KEY|SECRET)\w*:", line):
            assert "${" in line, f"secret with a literal value: {line.strip()}"


def test_names_match_the_code(services: dict[str, Any]) -> None:
    url = service_env(services["worker"])["FINSENTRY_MODEL__CLASSIFIER_URL"]
    assert url.startswith(f"triton://triton:8001/{MODEL_NAME}")
    assert "8501:8501" in services["dashboard"]["ports"] and Settings().dashboard.port == 8501
    assert "9100" in DOCKERFILE.read_text()
    prom = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())
    scraped = prom["scrape_configs"][0]["dns_sd_configs"][0]["names"]
    assert set(scraped) <= set(services)
    assert all(s in scraped for s in ("worker", "alert-detector", "alert-delivery"))


def test_env_example_lists_every_variable_the_code_reads() -> None:
    text = (ROOT / "deploy" / ".env.example").read_text()
    assert text.endswith(env_example()), (
        "deploy/.env.example is stale: regenerate its list with `finsentry settings env`"
    )


@pytest.mark.parametrize(
    "service",
    [
        "topics",
        "index-init",
        "model-export",
        "worker",
        "crawler",
        "alert-detector",
        "alert-delivery",
        "dashboard",
        "retrain",
    ],
)
def test_service_commands_are_cli_commands(services: dict[str, Any], service: str) -> None:
    result = CliRunner().invoke(app, [*services[service]["command"], "--help"])
    assert result.exit_code == 0, result.output


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="no compose client on this machine")
def test_docker_compose_accepts_the_file(tmp_path: Path) -> None:
    env = {
        "ELASTIC_PASSWORD": "x",
        "FINSENTRY_DASHBOARD__PASSWORD": "x",
        "GRAFANA_ADMIN_PASSWORD": "x",
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(
        ["docker-compose", "-f", str(COMPOSE), "config", "--quiet"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
