"""`finsentry up --demo` with the store on an Elasticsearch API answers like with SQLite."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port
from tests.finsentry.store.conftest import es_url, make_es_store
from tests.stream.conftest import wait_until

DEMO_DOCS = 443  # the bundled demo feed's distinct documents


def _cli(env: dict[str, str], *args: str) -> Any:
    out = subprocess.run(
        [sys.executable, "-m", "finsentry.app.cli", *args, "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def _run_demo(env: dict[str, str], log: Path) -> None:
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "finsentry.app.cli", "up", "--demo", "--demo-rate", "400"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until(lambda: len(_cli(env, "search", "--limit", "1000")) == DEMO_DOCS, 120, "every demo document")
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 0, log.read_text()[-3000:]


def _comparable(env: dict[str, str]) -> tuple[list[dict[str, Any]], dict[str, Any], list[Any]]:
    # the demo's items have no published time: fetch and scoring times (and so the order) are the run's own
    found = _cli(env, "search", "--limit", "1000")
    times = [d["fetched_at"] for d in found]
    assert times == sorted(times, reverse=True), "newest first"
    run_own = {"scored_at", "fetched_at"}
    docs = sorted(({k: v for k, v in d.items() if k not in run_own} for d in found), key=lambda d: d["id"])
    stats = _cli(env, "stats")
    keep = ("documents", "by_topic", "by_sentiment", "newest_model_version")
    text = sorted(d["id"] for d in _cli(env, "search", "--query", "falls", "--limit", "1000"))
    return docs, {k: stats[k] for k in keep}, text


def test_up_with_elasticsearch_stores_everything_and_answers_like_sqlite(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = es_url(request)
    prefix = f"up{uuid.uuid4().hex[:8]}"
    answers = []
    for name, store_url in (("sqlite", f"sqlite:///{tmp_path}/sqlite-home/docs.db"), ("es", url)):
        home = tmp_path / f"{name}-home"
        env = {
            **os.environ,
            "FINSENTRY_HOME": str(home),
            "FINSENTRY_KAFKA__PORT": str(free_port()),
            "FINSENTRY_STORE__URL": store_url,
            "FINSENTRY_STORE__INDEX_PREFIX": prefix,
            "FINSENTRY_MODEL__REGISTRY": str(tmp_path / "models"),  # one model for both runs
            "PYTHONUNBUFFERED": "1",
        }
        _run_demo(env, tmp_path / f"{name}.log")
        answers.append(_comparable(env))
    (sq_docs, sq_stats, sq_text), (es_docs, es_stats, es_text) = answers
    assert es_docs == sq_docs  # same documents, same values
    assert es_stats == sq_stats and sq_stats["documents"] == DEMO_DOCS
    assert es_text == sq_text and sq_text, "the full-text query must find something to compare"
    store = make_es_store(url, prefix)
    assert store.total() == DEMO_DOCS
    store.drop_all()  # type: ignore[attr-defined]
