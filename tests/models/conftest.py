"""Model fixtures: a registry over the bundled default model, and a real Triton server."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from finsentry.ids import doc_id
from finsentry.schemas import NewsItem, Prediction, ScoredDoc
from models.registry import ModelRegistry
from models.serving import serve_model_argv
from tests.conftest import free_port


@pytest.fixture(scope="session")
def registry_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("registry")


@pytest.fixture(scope="session")
def registry(registry_root: Path) -> ModelRegistry:
    return ModelRegistry(registry_root)


def clone_version(registry: ModelRegistry, name: str, sentiment_temperature: float) -> str:
    """A real second version: the bundled files under a new name with another calibration."""
    src = registry.current().path
    dst = registry.root / name
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("weights.pt"))
    meta = json.loads((dst / "meta.json").read_text())
    meta["version"] = name
    meta["temperatures"]["sentiment"] = sentiment_temperature
    (dst / "meta.json").write_text(json.dumps(meta))
    return name


@pytest.fixture(scope="session")
def triton_url(registry_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``finsentry serve-model`` (a real tritonserver via PyTriton) on free ports."""
    grpc, http, metrics = free_port(), free_port(), free_port()
    home = tmp_path_factory.mktemp("triton-home")
    env = {
        **os.environ,
        "FINSENTRY_MODEL__REGISTRY": str(registry_root),
        "FINSENTRY_HOME": str(home),
        "FINSENTRY_MODEL__RELOAD_SECONDS": "0.5",
        # Two instances: the model server's threads share one scorer, as on a GPU machine.
        "FINSENTRY_MODEL__SERVE_INSTANCES": "2",
        "HF_HUB_OFFLINE": "1",
    }
    log = (home / "triton.log").open("wb")
    proc = subprocess.Popen(
        serve_model_argv(grpc, http, metrics),
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    yield f"triton://127.0.0.1:{grpc}/finsentry"
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()
    shutil.rmtree(home / "triton", ignore_errors=True)


HEADLINES = (
    "Acme shares jump after earnings beat",
    "Oil slumps on weak demand fears",
    "Central bank holds rates steady",
    "Beta Corp recalls faulty batteries",
    "Gold climbs as dollar weakens",
)


def stored_docs(n: int, version: str = "old-model", start: datetime | None = None) -> list[ScoredDoc]:
    """``n`` distinct scored documents, one minute apart (several share a minute: ties in time)."""
    t0 = start or datetime(2026, 11, 1, tzinfo=UTC)
    docs = []
    for i in range(n):
        url = f"https://news.example.com/rescore/{i}"
        item = NewsItem(
            id=doc_id(url),
            source="wire",
            url=url,
            title=f"{HEADLINES[i % len(HEADLINES)]} ({i})",
            published_at=t0 + timedelta(minutes=i // 3),
        )
        pred = Prediction(
            sentiment="neutral",
            sentiment_scores={"negative": 0.1, "neutral": 0.8, "positive": 0.1},
            topic="Markets",
            topic_scores={"Markets": 1.0},
            model_version=version,
        )
        docs.append(ScoredDoc.from_prediction(item, pred))
    return docs
