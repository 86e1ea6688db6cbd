"""``finsentry dashboard`` and ``finsentry labels export``."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any

import typer

from finsentry.errors import ConfigError
from finsentry.schemas import Label
from finsentry.settings import Settings

labels_app = typer.Typer(help="Analysts' corrections, for retraining.", no_args_is_help=True)
ENTRY = Path(__file__).resolve().parent / "dashboard_main.py"


def streamlit_argv(settings: Settings) -> list[str]:
    """The command that serves the dashboard on ``settings.dashboard``'s address and port.

    Raises:
        ConfigError: bound beyond localhost with neither OIDC nor a password configured.
    """
    from dashboard.auth import login_mode

    d = settings.dashboard
    if login_mode(d) == "refuse":
        raise ConfigError(
            f"the dashboard would listen on {d.address} with no login: set FINSENTRY_DASHBOARD__PASSWORD,"
            " configure OIDC (FINSENTRY_DASHBOARD__OIDC=true and [auth] in .streamlit/secrets.toml),"
            " or bind to 127.0.0.1"
        )
    return [
        sys.executable, "-m", "streamlit", "run", str(ENTRY),
        "--server.headless", "true",
        "--server.address", d.address,
        "--server.port", str(d.port),
        "--server.fileWatcherType", "none",
        "--server.runOnSave", "false",
        "--browser.gatherUsageStats", "false",
        "--client.toolbarMode", "viewer",
        "--global.developmentMode", "false",
    ]  # fmt: skip


def dashboard(ctx: typer.Context) -> None:
    """Serve the dashboard (Streamlit) until Ctrl-C; the settings travel in the environment."""
    settings: Settings = ctx.obj
    argv = streamlit_argv(settings)
    sys.stdout.write(f"dashboard on {settings.dashboard.url}\n")
    sys.stdout.flush()
    os.execv(argv[0], argv)  # streamlit takes over this process: signals reach it directly


def export_rows(labels: Iterable[Label]) -> list[dict[str, Any]]:
    """Label-file rows (``text``, ``sentiment``, ``topic``): the latest label of each document wins.

    Labels without a document (imported from files) are keyed by their text. Rows come out in
    the order their winning labels were made.
    """
    latest: dict[str, Label] = {}
    for label in sorted(labels, key=lambda lab: (lab.created_at, lab.id)):
        key = f"doc:{label.doc_id}" if label.doc_id else f"text:{label.text}"
        latest.pop(key, None)  # re-insert so that dict order is the winner's time
        latest[key] = label
    rows = []
    for label in latest.values():
        row: dict[str, Any] = {"text": label.text}
        if label.sentiment:
            row["sentiment"] = label.sentiment
        if label.topic:
            row["topic"] = label.topic
        if len(row) > 1:
            rows.append(row)
    return rows


@labels_app.command("export")
def labels_export(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(dir_okay=False, help="JSON-lines file to write (replaced).")],
) -> None:
    """Write the corrections as a label file for ``finsentry train --labels``."""
    from finsentry.app.factory import make_label_store

    settings: Settings = ctx.obj
    rows = export_rows(make_label_store(settings).labels())
    tmp = file.with_name(file.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    tmp.replace(file)  # a reader never sees half a file
    sys.stdout.write(json.dumps({"file": str(file), "labels": len(rows)}) + "\n")
