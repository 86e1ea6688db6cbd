"""The ``finsentry`` command. Settings are built here, once, and passed to every part."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from finsentry.app import cli_alerts, cli_dashboard, cli_index, cli_ingest, cli_models, cli_retrain, cli_settings
from finsentry.errors import ConfigError, FinsentryError
from finsentry.logs import setup_logging
from finsentry.settings import Settings, check_environment

app = typer.Typer(help="finsentry: streaming financial news sentiment monitor.", no_args_is_help=True)
app.add_typer(cli_ingest.ingest_app, name="ingest")
app.add_typer(cli_models.models_app, name="models")
app.add_typer(cli_alerts.alerts_app, name="alerts")
app.add_typer(cli_alerts.subscribers_app, name="subscribers")
app.add_typer(cli_settings.settings_app, name="settings")
app.add_typer(cli_index.index_app, name="index")
app.command()(cli_models.train)
app.command()(cli_models.predict)
app.command("serve-model")(cli_models.serve_model)
app.command()(cli_retrain.retrain)
app.command()(cli_retrain.rescore)
app.add_typer(cli_dashboard.labels_app, name="labels")
app.command()(cli_dashboard.dashboard)


def _settings(ctx: typer.Context) -> Settings:
    settings: Settings = ctx.obj
    return settings


def serve_metrics(settings: Settings, health: Callable[[], bool] | None = None) -> None:
    """Expose /metrics and /healthz for a long-running process (its log names the port)."""
    if settings.metrics.enabled:
        from finsentry.metrics import MetricsServer

        MetricsServer(settings.metrics.address, settings.metrics.port, health).start()


def _echo_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, default=str) + "\n")


@app.callback()
def main(ctx: typer.Context) -> None:
    """Build the one Settings object from FINSENTRY_* variables."""
    try:
        check_environment(os.environ)
        settings = Settings()
    except (ConfigError, ValidationError) as exc:
        sys.stderr.write(f"finsentry: bad configuration:\n{exc}\n")
        raise typer.Exit(2) from None
    setup_logging(settings.log_level)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # weights come from packages, never a hub
    ctx.obj = settings


@app.command()
def up(
    ctx: typer.Context,
    demo: Annotated[bool, typer.Option(help="Replay the bundled demo feed.")] = False,
    demo_rate: Annotated[float, typer.Option(help="Demo records per second.")] = 25.0,
) -> None:
    """Run the whole pipeline on this machine until Ctrl-C."""
    from finsentry.app.up import run_up

    raise typer.Exit(run_up(_settings(ctx), dict(os.environ), demo, demo_rate))


@app.command()
def worker(ctx: typer.Context) -> None:
    """Run one stream worker (Faust) in the consumer group."""
    from finsentry.app.factory import make_classifier, make_store, make_story_index
    from finsentry.app.ops import bootstrap_of
    from stream.worker import run_worker

    settings = _settings(ctx)
    serve_metrics(settings)
    sys.argv = [sys.argv[0], "worker"]  # Faust parses argv; give it only its own command
    store, stories = make_store(settings), make_story_index(settings)
    run_worker(settings, bootstrap_of(settings), make_classifier(settings), store, stories)


def _parse_time(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"not an ISO time: {value!r}") from None


@app.command()
def search(
    ctx: typer.Context,
    query: Annotated[str | None, typer.Option(help="Full-text query.")] = None,
    topic: Annotated[str | None, typer.Option()] = None,
    sentiment: Annotated[str | None, typer.Option()] = None,
    ticker: Annotated[str | None, typer.Option()] = None,
    source: Annotated[str | None, typer.Option()] = None,
    since: Annotated[str | None, typer.Option(help="ISO time, e.g. 2026-11-25T00:00:00+00:00")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000)] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Search scored documents, newest first."""
    from finsentry.app.factory import make_store
    from finsentry.protocols import SearchQuery

    q = SearchQuery(
        text=query,
        topic=topic,
        sentiment=sentiment,
        ticker=ticker,
        source=source,
        since=_parse_time(since),
        limit=limit,
    )
    docs = make_store(_settings(ctx)).search(q)
    if as_json:
        _echo_json([d.model_dump(mode="json", by_alias=True) for d in docs])
        return
    for d in docs:
        sys.stdout.write(f"{d.sentiment:<8} {d.topic:<28} {d.title[:90]}\n")


@app.command("dead-letters")
def dead_letters(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, max=100_000)] = 20,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The newest dead letters: stage, reason, where it came from, and the start of the original."""
    from finsentry.app.ops import bootstrap_of
    from finsentry.broker import read_dead_letters

    rows = read_dead_letters(bootstrap_of(_settings(ctx)))[-limit:]
    out = [
        {
            **d.model_dump(mode="json", by_alias=True, exclude={"original_b64"}),
            "original_preview": d.original[:200].decode("utf-8", "replace"),
        }
        for d in rows
    ]
    if as_json:
        _echo_json(out)
        return
    for d in out:
        sys.stdout.write(f"{d['time']} {d['stage']:<7} {d['reason'][:100]}\n")


@app.command()
def stats(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Counts by topic and sentiment, dead letters, model versions."""
    from finsentry.app import ops
    from finsentry.app.factory import make_store

    settings = _settings(ctx)
    out = ops.stats(make_store(settings), settings)
    if out.get("kafka_error"):
        sys.stderr.write(f"finsentry: {ops.broker_down(settings, out['kafka_error'])}\n")
    if as_json:
        _echo_json(out)
        return
    for key, value in out.items():
        sys.stdout.write(f"{key}: {value}\n")


@app.command()
def status(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Is the broker up, how far behind are workers, which model is current."""
    from finsentry.app import ops

    settings = _settings(ctx)
    out: dict[str, Any] = {
        "classifier": settings.model.classifier_url,
        "precision": settings.model.precision,
        "store": settings.store.url,
        "current_model": ops.current_model(settings),
    }
    try:
        out["kafka"] = ops.kafka_counts(settings)
        out["broker"] = "up"
    except Exception as exc:  # noqa: BLE001 - "down" is the answer, not a crash
        out["broker"] = "down"
        out["broker_error"] = str(exc)
        sys.stderr.write(f"finsentry: {ops.broker_down(settings, exc)}\n")
    if as_json:
        _echo_json(out)
        return
    for key, value in out.items():
        sys.stdout.write(f"{key}: {value}\n")


def run() -> None:
    """Console entry point: typed errors become one clear line and exit code 1."""
    try:
        app()
    except FinsentryError as exc:
        sys.stderr.write(f"finsentry: {exc}\n")
        sys.exit(1)


if __name__ == "__main__":
    run()
