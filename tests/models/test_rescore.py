"""Re-scoring stored documents: resumable after a kill, each document once per version, both labels kept."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from finsentry.protocols import SearchQuery
from finsentry.schemas import ScoredDoc
from finsentry.store.sqlite import SqliteStore
from models.onnx_scorer import HeadScores, OnnxScorer
from models.registry import ModelRegistry
from models.rescore import checkpoint_path, rescore
from tests.models.conftest import stored_docs

SINCE = datetime(2026, 10, 1, tzinfo=UTC)


class CountingScorer:
    """The real scorer of a version, recording every text it is asked to score."""

    def __init__(self, inner: OnnxScorer) -> None:
        self.inner, self.version, self.meta = inner, inner.version, inner.meta
        self.seen: Counter[str] = Counter()

    def score(self, texts: Sequence[str]) -> HeadScores:
        self.seen.update(texts)
        return self.inner.score(texts)

    def score_ids(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> HeadScores:
        return self.inner.score_ids(input_ids, attention_mask)


@pytest.fixture(scope="module")
def scorer() -> OnnxScorer:
    return OnnxScorer(ModelRegistry(Path("/nonexistent")).current().path)


def test_every_document_is_scored_once_across_pages_that_split_ties_in_time(scorer: OnnxScorer, tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "docs.db")
    docs = stored_docs(31)  # three documents a minute: pages of 4 cut through equal times
    store.upsert(docs)
    counting = CountingScorer(scorer)
    state = rescore(store, counting, SINCE, tmp_path / "cp.json", page_size=4, progress=False)
    assert state.scored == 31 and state.skipped == 0 and state.done
    assert set(counting.seen.values()) == {1} and len(counting.seen) == 31
    again = rescore(store, counting, SINCE, tmp_path / "cp.json", page_size=4, progress=False)
    assert again.scored == 0 and again.skipped == 31  # a finished walk walks again, scoring nothing
    assert set(counting.seen.values()) == {1}
    got = store.get(docs[0].id)
    assert got is not None and got.model_version == "old-model" and got.sentiment == "neutral"
    assert got.rescored[scorer.version].sentiment in {"negative", "neutral", "positive"}


class TimeOnlyPaging:
    """The real store, with the search cursor dropped: a store that pages by time only."""

    def __init__(self, inner: SqliteStore) -> None:
        self.inner = inner

    def search(self, query: SearchQuery) -> list[ScoredDoc]:
        return self.inner.search(query.model_copy(update={"after": None}))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_the_walk_stays_exact_with_a_store_that_ignores_the_cursor(scorer: OnnxScorer, tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "docs.db")
    store.upsert(stored_docs(31))
    counting = CountingScorer(scorer)
    state = rescore(TimeOnlyPaging(store), counting, SINCE, tmp_path / "cp.json", page_size=4, progress=False)
    assert state.scored == 31 and set(counting.seen.values()) == {1}


def _cli(*args: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "finsentry.app.cli", *args],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )


def _labelled(store: SqliteStore, version: str) -> dict[str, Any]:
    docs = store.search(SearchQuery(limit=10_000))
    return {d.id: d.rescored[version].scored_at for d in docs if version in d.rescored}


@pytest.mark.timeout(300)
def test_a_killed_rescore_resumes_and_search_shows_both_labels(tmp_path: Path) -> None:
    home = tmp_path / "home"
    store = SqliteStore(home / "finsentry.db")
    docs = stored_docs(600)
    store.upsert(docs)
    env = {"FINSENTRY_HOME": str(home), "FINSENTRY_LOG_LEVEL": "WARNING"}
    version = ModelRegistry(home / "models").current().name
    cp = checkpoint_path(home, version)
    args = ("rescore", "--since", SINCE.isoformat(), "--page-size", "20", "--no-progress")

    first = _cli(*args, env=env)
    deadline = time.monotonic() + 240
    while not (cp.is_file() and json.loads(cp.read_text())["scored"] >= 100) and time.monotonic() < deadline:
        time.sleep(0.02)
    first.send_signal(signal.SIGKILL)  # halfway, without a chance to clean up
    assert first.wait(30) == -signal.SIGKILL
    done_before = _labelled(store, version)
    assert 100 <= len(done_before) < 600

    second = _cli(*args, env=env)
    out, _ = second.communicate(timeout=240)
    assert second.returncode == 0
    summary = json.loads(out)
    assert summary["scored_this_run"] == 600 - len(done_before) and summary["scored"] == 600
    assert summary["docs_per_s"] > 0
    done_after = _labelled(store, version)
    assert len(done_after) == 600
    assert all(done_after[i] == t for i, t in done_before.items())  # nothing scored twice

    search = _cli("search", "--json", "--limit", "5", env=env)
    shown, _ = search.communicate(timeout=120)
    for doc in json.loads(shown):
        assert doc["model_version"] == "old-model" and doc["sentiment"] == "neutral"
        assert set(doc["rescored"]) == {version}
        assert {"sentiment", "topic", "signed_score"} <= set(doc["rescored"][version])
