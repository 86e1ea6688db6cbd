"""``finsentry index init/prune/reindex`` on SQLite and on an Elasticsearch API."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch
from typer.testing import CliRunner

from finsentry.app.cli import app
from finsentry.app.cli_index import copy_all
from finsentry.errors import ConfigError
from finsentry.protocols import ManagedStore, Rejected, SearchQuery
from finsentry.schemas import ScoredDoc
from finsentry.store.es_layout import month_index
from finsentry.store.sqlite import SqliteStore
from tests.finsentry.store.conftest import T0, es_url, make_es_store


def _invoke(home: Path, *args: str, **env: str) -> tuple[int, str, BaseException | None]:
    environ = {"FINSENTRY_HOME": str(home), **{f"FINSENTRY_{k.upper()}": v for k, v in env.items()}}
    result = CliRunner().invoke(app, list(args), env=environ)
    return result.exit_code, result.stdout, result.exception


def _ids(store: ManagedStore) -> set[str]:
    return {d.id for d in store.search(SearchQuery(limit=10_000))}


class Interrupted(Exception):
    pass


class DiesAfter:
    """A destination that fails after ``pages`` pages: a reindex killed midway."""

    def __init__(self, inner: ManagedStore, pages: int) -> None:
        self.inner, self.pages = inner, pages

    def upsert(self, docs: Sequence[ScoredDoc]) -> list[Rejected]:
        if self.pages == 0:
            raise Interrupted
        self.pages -= 1
        return self.inner.upsert(docs)


def test_reindex_resumes_and_checks_counts(
    request: pytest.FixtureRequest, tmp_path: Path, make_doc: Callable[..., ScoredDoc]
) -> None:
    src = SqliteStore(tmp_path / "src.db")
    docs = [make_doc(i, minutes=i * 7, tickers=["ACME", "OILX"][: i % 3]) for i in range(230)]
    src.upsert(docs)
    url = es_url(request)
    prefix = f"r{uuid.uuid4().hex[:10]}"
    dst = make_es_store(url, prefix)
    cursor = tmp_path / "state.cursor"
    with pytest.raises(Interrupted):
        copy_all(src, DiesAfter(dst, 2), cursor, 50)  # type: ignore[arg-type]
    assert cursor.exists() and len(_ids(dst)) == 100

    code, out, exc = _invoke(
        tmp_path, "index", "reindex", "--from", f"sqlite:///{tmp_path}/src.db", "--to", url,
        "--batch", "50", "--state", str(cursor), store__index_prefix=prefix,
    )  # fmt: skip
    assert code == 0, exc
    report = json.loads(out)
    assert report["copied"] == 130  # only what the first run had not copied
    assert report["source_documents"] == report["destination_documents"] == 230
    assert _ids(dst) == {d.id for d in docs} and not cursor.exists()

    # and back into a fresh SQLite file: the same archive, value for value
    code, out, exc = _invoke(
        tmp_path, "index", "reindex", "--from", url, "--to", "sqlite:///back.db", store__index_prefix=prefix
    )
    assert code == 0, exc
    back = SqliteStore(tmp_path / "back.db")
    got = sorted(back.search(SearchQuery(limit=1000)), key=lambda d: d.id)
    assert got == sorted(docs, key=lambda d: d.id)  # byte-exact records, floats included
    dst.drop_all()  # type: ignore[attr-defined]


def test_init_is_idempotent_and_refuses_a_conflicting_index(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    url = es_url(request)
    prefix = f"i{uuid.uuid4().hex[:10]}"
    for _ in range(2):
        code, out, exc = _invoke(tmp_path, "index", "init", store__url=url, store__index_prefix=prefix)
        assert code == 0, exc
        assert json.loads(out)["ready"] is True
    client = Elasticsearch(url)
    client.indices.create(
        index=month_index(f"{prefix}x", T0), mappings={"properties": {"event_time": {"type": "keyword"}}}
    )
    try:
        code, _, exc = _invoke(tmp_path, "index", "init", store__url=url, store__index_prefix=f"{prefix}x")
        assert isinstance(exc, ConfigError) and "event_time" in str(exc)
    finally:
        client.indices.delete(index=month_index(f"{prefix}x", T0))
        make_es_store(url, prefix).drop_all()  # type: ignore[attr-defined]
        client.close()


def test_prune_on_sqlite_keeps_the_retention(tmp_path: Path, make_doc: Callable[..., ScoredDoc]) -> None:
    store = SqliteStore(tmp_path / "docs.db")
    now = datetime.now(UTC)
    old = make_doc(1).model_copy(update={"published_at": now.replace(year=now.year - 1)})
    new = make_doc(2).model_copy(update={"published_at": now})
    store.upsert([old, new])
    code, out, exc = _invoke(tmp_path, "index", "prune", "--months", "3", store__url="sqlite:///docs.db")
    assert code == 0, exc
    assert json.loads(out)["pruned"] == 1 and _ids(SqliteStore(tmp_path / "docs.db")) == {new.id}
    code, out, _ = _invoke(tmp_path, "index", "prune", store__url="sqlite:///docs.db")
    assert json.loads(out)["pruned"] == 0  # retention 0 by default: everything kept


def test_unreachable_cluster_is_one_clear_line_naming_the_url(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from tests.conftest import free_port

    port = free_port()
    env = {
        **os.environ,
        "FINSENTRY_HOME": str(tmp_path),
        "FINSENTRY_STORE__URL": f"http://127.0.0.1:{port}",
        "FINSENTRY_STORE__PASSWORD": "s3cret-pw",
        "FINSENTRY_STORE__RETRY_SECONDS": "1",
    }
    argv = [sys.executable, "-m", "finsentry.app.cli", "index", "init"]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert f"Elasticsearch at http://127.0.0.1:{port} unavailable" in done.stderr
    assert "s3cret-pw" not in done.stderr + done.stdout
