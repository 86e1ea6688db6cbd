"""Model commands of the ``finsentry`` CLI: train, models, predict, serve-model."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import sysconfig
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from finsentry.settings import Settings

if TYPE_CHECKING:  # imported lazily at run time: the CLI starts without loading the ML stack
    from models.registry import ModelRegistry

models_app = typer.Typer(help="The model registry: list, promote, roll back, export.", no_args_is_help=True)


def _settings(ctx: typer.Context) -> Settings:
    settings: Settings = ctx.obj
    return settings


def _registry(ctx: typer.Context) -> Any:
    from models.registry import ModelRegistry

    return ModelRegistry(_settings(ctx).model.registry)


def _echo(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, default=str) + "\n")


def train(
    ctx: typer.Context,
    labels: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="New labels (.jsonl or .csv).")
    ] = None,
    epochs: Annotated[int, typer.Option(min=1, max=50)] = 5,
    lr: Annotated[float, typer.Option()] = 8e-5,
    batch_size: Annotated[int, typer.Option(min=1)] = 32,
    seed: Annotated[int, typer.Option()] = 13,
    sentiment_weight: Annotated[float, typer.Option(min=0.1, help="Sentiment loss weight vs topic.")] = 1.0,
    balance_sentiment: Annotated[bool, typer.Option(help="Weight rare sentiment classes up.")] = False,
    base: Annotated[
        str, typer.Option(help="Base encoder: minilm (fast default) or mpnet (accurate tier: make accurate-base).")
    ] = "minilm",
    teacher: Annotated[
        str | None, typer.Option(help="Distil from this version's scores (e.g. an mpnet version).")
    ] = None,
    distill: Annotated[float, typer.Option(min=0.0, help="Weight of the teacher's soft targets.")] = 1.0,
    init: Annotated[
        str | None, typer.Option(help="Continue training this version (same base) with a fresh schedule.")
    ] = None,
    bf16: Annotated[bool, typer.Option(help="bf16 autocast: faster on CPUs with AVX512-BF16.")] = False,
    group_by_length: Annotated[
        bool, typer.Option(help="Batch rows of similar length: less padding, faster epochs.")
    ] = False,
    promote: Annotated[bool, typer.Option(help="Promote if the gate accepts it.")] = False,
) -> None:
    """Train a new version on the vendored data plus new labels, evaluate it, register it."""
    from models.bases import base_dir
    from models.dataset import load_label_file
    from models.pipeline import build_version
    from models.train import TrainConfig

    extra = load_label_file(labels) if labels else []  # refused with line numbers before training
    base_path = base_dir(base, _settings(ctx).home / "bases")  # refuses a missing base before training
    registry = _registry(ctx)
    teacher_dir = registry.get(teacher).path if teacher else None  # an unknown version fails here too
    init_dir = registry.get(init).path if init else None
    cfg = TrainConfig(
        epochs=epochs,
        lr=lr,
        batch_size=batch_size,
        seed=seed,
        sentiment_weight=sentiment_weight,
        balance_sentiment=balance_sentiment,
        base=base,
        distill=distill if teacher else 0.0,
        bf16=bf16,
        group_by_length=group_by_length,
    )
    out = build_version(registry, cfg, base_path, extra, labels.name if labels else "", teacher_dir, init_dir)
    _report_new_version(registry, out, promote)


def _report_new_version(registry: ModelRegistry, out: Path, promote: bool) -> None:
    """Print a new version's metrics and the gate's verdict; promote it when asked."""
    info = registry.get(out.name)
    report: dict[str, Any] = {
        "version": info.name,
        "path": str(out),
        "metrics": {h: info.f1(h) for h in ("sentiment", "topic")},
        "gate": registry.judge(info, registry.current()) or "passes",
    }
    if promote:
        registry.promote(info.name)
        report["promoted"] = True
    _echo(report)


@models_app.command("list")
def models_list(ctx: typer.Context) -> None:
    """Every version with its validation metrics; the current one is marked."""
    registry = _registry(ctx)
    current = registry.current().name
    rows = [
        {
            "version": v.name,
            "current": v.name == current,
            "sentiment_f1": round(v.f1("sentiment"), 4),
            "topic_f1": round(v.f1("topic"), 4),
            "created": v.meta.get("created"),
            "bundled": v.path.parent == registry.bundled,
        }
        for v in registry.versions()
    ]
    _echo(rows)


@models_app.command("promote")
def models_promote(
    ctx: typer.Context, version: str, force: Annotated[bool, typer.Option(help="Skip the quality gate.")] = False
) -> None:
    """Make VERSION current; refused when it is worse than current beyond noise."""
    info = _registry(ctx).promote(version, force=force)
    _echo({"current": info.name})


@models_app.command("rollback")
def models_rollback(ctx: typer.Context) -> None:
    """Return to the previously promoted version."""
    _echo({"current": _registry(ctx).rollback().name})


def _weights(spec: str | None, n: int) -> list[float]:
    if spec is None:
        return [1.0] * n
    try:
        return [float(x) for x in spec.split(",")]
    except ValueError:
        raise typer.BadParameter(f"weights are comma-separated numbers, not {spec!r}") from None


@models_app.command("ensemble")
def models_ensemble(
    ctx: typer.Context,
    members: Annotated[list[str], typer.Argument(help="Two or more trained versions.")],
    sentiment_weights: Annotated[str | None, typer.Option(help="Per-member weights, e.g. 1,0.")] = None,
    topic_weights: Annotated[str | None, typer.Option(help="Per-member weights, e.g. 1,1.")] = None,
    promote: Annotated[bool, typer.Option(help="Promote if the gate accepts it.")] = False,
) -> None:
    """Register an evaluated ensemble of MEMBERS (averaged probabilities, weights per head)."""
    from models.ensemble import build_ensemble

    registry = _registry(ctx)
    weights = {
        "sentiment": _weights(sentiment_weights, len(members)),
        "topic": _weights(topic_weights, len(members)),
    }
    _report_new_version(registry, build_ensemble(registry, members, weights), promote)


@models_app.command("export")
def models_export(
    ctx: typer.Context,
    triton: Annotated[Path, typer.Option(help="Triton model repository folder to write.")],
    version: Annotated[str | None, typer.Option(help="Version (default: current).")] = None,
) -> None:
    """Write a model repository (ONNX + config.pbtxt) for the NVIDIA Triton container.

    Into a repository that already holds the model, the version goes in as the next numbered
    folder, which a polling Triton loads without a restart (after a rollback, too).
    """
    from models.serving import MODEL_NAME
    from models.triton_export import export_next_version, export_repository

    registry = _registry(ctx)
    info = registry.get(version) if version else registry.current()
    live = (triton / MODEL_NAME / "config.pbtxt").is_file()
    written = export_next_version(info.path, triton) if live else export_repository(info.path, triton)
    _echo({"version": info.name, "repository": str(written)})


def _local_classify(settings: Settings, version: str | None) -> Any:
    from finsentry.app.factory import current_model
    from models.classifiers import to_predictions

    scorer = current_model(settings, version=version).get()
    return lambda texts: to_predictions(scorer.score(texts), scorer.version)


def _triton_classify(url: str, bases_cache: Path) -> Any:
    from models.triton_client import TritonClassifier

    loop = asyncio.new_event_loop()
    client = TritonClassifier.from_url(url, bases_cache)
    loop.run_until_complete(client.wait_ready(30))
    return lambda texts: loop.run_until_complete(client.classify(texts))


def predict(
    ctx: typer.Context,
    model: Annotated[str | None, typer.Option(help="Version (default: current).")] = None,
    backend: Annotated[str, typer.Option(help="local or triton")] = "local",
    triton_url: Annotated[
        str, typer.Option(help="Used with --backend triton; add ?base=mpnet for an mpnet version.")
    ] = "triton://127.0.0.1:8001",
) -> None:
    """JSON lines {"id", "text"} on stdin → predictions as JSON lines on stdout, in order."""
    from models.predict import predict_lines

    if backend not in ("local", "triton"):
        raise typer.BadParameter("backend must be local or triton")
    settings = _settings(ctx)
    if backend == "local":
        classify = _local_classify(settings, model)
    else:
        classify = _triton_classify(triton_url, settings.home / "bases")
    out = sys.stdout
    for record in predict_lines(sys.stdin, classify):
        out.write(json.dumps(record) + "\n")
    out.flush()


def serve_model(
    ctx: typer.Context,
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    grpc_port: Annotated[int, typer.Option()] = 8001,
    http_port: Annotated[int, typer.Option()] = 8000,
    metrics_port: Annotated[int, typer.Option()] = 8002,
) -> None:
    """Serve the current model (following promotions) through Triton with dynamic batching."""
    import os

    from finsentry.app.factory import current_model
    from models.serving import serve

    settings = _settings(ctx)
    # SIGTERM as a normal exit, so Triton is stopped and its workspace removed on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    # tritonserver's Python backend stub must load this interpreter's libpython, not the system one.
    libdir = sysconfig.get_config_var("LIBDIR") or ""
    os.environ["LD_LIBRARY_PATH"] = f"{libdir}:{os.environ.get('LD_LIBRARY_PATH', '')}"
    serve(
        current_model(settings, keep_base=True),
        host,
        http_port,
        grpc_port,
        metrics_port,
        workspace=Path(settings.home) / "triton",
        instances=settings.model.serve_instances,
    )
