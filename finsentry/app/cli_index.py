"""``finsentry index``: create, prune and move the document archive (SQLite or Elasticsearch)."""

from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from finsentry.protocols import ManagedStore, SearchQuery, cursor_of
from finsentry.settings import Settings

index_app = typer.Typer(help="Create, prune and move the document store's indices.", no_args_is_help=True)


def _echo(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, default=str) + "\n")


@index_app.command("init")
def init(ctx: typer.Context) -> None:
    """Create the store's template and indices (idempotent; refuses an incompatible mapping)."""
    from finsentry.app.factory import make_store

    settings: Settings = ctx.obj
    store = make_store(settings)  # ensure() runs on construction
    _echo({"store": _public(settings.store.url), "documents": store.total(), "ready": True})


@index_app.command("prune")
def prune(
    ctx: typer.Context,
    months: Annotated[int | None, typer.Option(min=1, help="Months to keep (default: store.retention_months).")] = None,
) -> None:
    """Delete documents older than the retention, whole months by event time."""
    from finsentry.app.factory import make_store

    settings: Settings = ctx.obj
    keep = months or settings.store.retention_months
    if keep <= 0:
        _echo({"pruned": 0, "reason": "retention is 0 months: everything is kept"})
        return
    _echo({"pruned": make_store(settings).prune(keep), "kept_months": keep})


@index_app.command("reindex")
def reindex(
    ctx: typer.Context,
    source: Annotated[str, typer.Option("--from", help="Store URL to read (sqlite:///... or http(s)://...).")],
    dest: Annotated[str, typer.Option("--to", help="Store URL to write.")],
    batch: Annotated[int, typer.Option(min=1, max=10_000)] = 1000,
    state: Annotated[Path | None, typer.Option(help="Cursor file for resuming (default under FINSENTRY_HOME).")] = None,
) -> None:
    """Copy every document from one store to another; resumes where a previous run stopped."""
    from finsentry.app.factory import make_store_at

    settings: Settings = ctx.obj
    cursor_file = (
        state or settings.home / f"reindex-{hashlib.sha256(f'{source} {dest}'.encode()).hexdigest()[:12]}.cursor"
    )
    src, dst = make_store_at(settings, source), make_store_at(settings, dest)
    copied, rejected = copy_all(src, dst, cursor_file, batch)
    want, got = src.total(), _settled_total(dst, src.total() - rejected)
    _echo({"copied": copied, "rejected": rejected, "source_documents": want, "destination_documents": got})
    if got != want - rejected:
        sys.stderr.write(f"finsentry: count check failed: source {want} (rejected {rejected}), destination {got}\n")
        raise typer.Exit(1)
    cursor_file.unlink(missing_ok=True)


def copy_all(src: ManagedStore, dst: ManagedStore, cursor_file: Path, batch: int) -> tuple[int, int]:
    """Page through ``src`` newest first and upsert into ``dst``, saving the cursor after each page.

    Returns:
        (documents copied in this run, documents the destination refused).

    """
    from tqdm import tqdm

    after = cursor_file.read_text().strip() if cursor_file.exists() else None
    copied = rejected = 0
    with tqdm(total=src.total(), unit="doc", desc="reindex", file=sys.stderr) as bar:
        while True:
            page = src.search(SearchQuery(limit=batch, after=after or None))
            if not page:
                return copied, rejected
            rejected += len(dst.upsert(page))
            after = cursor_of(page[-1])
            tmp = cursor_file.with_suffix(".tmp")
            tmp.write_text(after)
            tmp.replace(cursor_file)  # the cursor moves only after the page is durable
            copied += len(page)
            bar.update(len(page))


def _settled_total(store: ManagedStore, expected: int, wait_s: float = 10.0) -> int:
    """The destination's count, waiting briefly for a search cluster to make new writes visible."""
    deadline = time.monotonic() + wait_s
    got = store.total()
    while got != expected and time.monotonic() < deadline:
        time.sleep(0.5)
        got = store.total()
    return got


def _public(url: str) -> str:
    from finsentry.store.elasticsearch import redact

    return redact(url) if not url.startswith("sqlite") else url
