"""Corrections on the Elasticsearch API (noida-db): same answers as SQLite, and export through the CLI."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from typer.testing import CliRunner

from finsentry.app.cli import app
from finsentry.app.factory import make_label_store
from finsentry.schemas import Label
from finsentry.settings import Settings
from finsentry.store.es import make_es_client
from finsentry.store.es_labels import ElasticsearchLabelStore
from models.dataset import load_label_file
from tests.conftest import EmbeddedSearch
from tests.dashboard.conftest import NOW


def _settings(make_settings: Callable[..., Settings], search_server: EmbeddedSearch) -> Settings:
    prefix = "t" + uuid.uuid4().hex[:10]  # one index per test on the shared server
    return make_settings(store={"url": search_server.url, "index_prefix": prefix})


def test_labels_ordered_filtered_and_idempotent(
    make_settings: Callable[..., Settings], search_server: EmbeddedSearch
) -> None:
    store = make_label_store(_settings(make_settings, search_server))
    for n, minutes in ((2, 5), (1, 1), (3, 3), (3, 3)):
        store.add_label(
            Label(
                id=f"l{n}",
                doc_id=f"d{n}",
                text=f"t{n}",
                sentiment="negative",
                created_at=NOW + timedelta(minutes=minutes),
            )
        )
    assert [lab.id for lab in store.labels()] == ["l1", "l3", "l2"]
    assert [lab.id for lab in store.labels(NOW + timedelta(minutes=3))] == ["l3", "l2"]
    assert store.labels()[0] == Label(
        id="l1", doc_id="d1", text="t1", sentiment="negative", created_at=NOW + timedelta(minutes=1)
    )


def test_more_than_a_page_and_export(
    make_settings: Callable[..., Settings], search_server: EmbeddedSearch, tmp_path: Path
) -> None:
    settings = _settings(make_settings, search_server)
    store = ElasticsearchLabelStore(make_es_client(settings.store), settings.store.index_prefix, page_size=10)
    for n in range(25):
        store.add_label(
            Label(
                id=f"l{n:05d}",
                doc_id=f"d{n % 7}",
                text=f"text {n % 7}",
                topic="Macro",
                sentiment="positive" if n % 2 else "negative",
                created_at=NOW + timedelta(seconds=n),
            )
        )
    assert [lab.id for lab in store.labels()] == [f"l{n:05d}" for n in range(25)]
    out = tmp_path / "labels.jsonl"
    env = {
        "FINSENTRY_HOME": str(settings.home),
        "FINSENTRY_STORE__URL": settings.store.url,
        "FINSENTRY_STORE__INDEX_PREFIX": settings.store.index_prefix,
    }
    result = CliRunner().invoke(app, ["labels", "export", str(out)], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["labels"] == 7
    assert len(load_label_file(out)) == 7
