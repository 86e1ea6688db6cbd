"""Retraining commands of the ``finsentry`` CLI: retrain (labels → promoted model) and rescore."""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime
from typing import Annotated, Any

import typer

from finsentry.errors import ConfigError
from finsentry.settings import Settings

log = logging.getLogger(__name__)
# Exit codes a scheduler can act on: 0 promoted or nothing to do, 3 refused by the gate, 4 training failed.
EXIT_CODES = {"promoted": 0, "too_few": 0, "refused": 3, "failed": 4}


def _settings(ctx: typer.Context) -> Settings:
    settings: Settings = ctx.obj
    return settings


def _echo(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, default=str) + "\n")


def _label_store(settings: Settings) -> Any:
    from finsentry.app.factory import make_label_store

    try:
        return make_label_store(settings)
    except ConfigError as exc:
        log.warning("no label store (%s): collecting label files only", exc)
        return None


def retrain_job(settings: Settings) -> Any:
    """The retraining job with its backends, as settings describe it."""
    from finsentry.app.factory import make_store
    from models.registry import ModelRegistry
    from models.retrain import RetrainJob
    from models.train import TrainConfig

    r = settings.retrain
    return RetrainJob(
        registry=ModelRegistry(settings.model.registry),
        labels=_label_store(settings),
        documents=make_store(settings),
        labels_dir=r.labels_dir,
        bases_cache=settings.home / "bases",
        lock_path=settings.home / "retrain.lock",
        min_labels=r.min_labels,
        from_base=r.from_base,
        holdout_percent=r.holdout_percent,
        recent_docs=r.recent_docs,
        triton_repository=r.triton_repository,
        distill=r.distill,
        config=TrainConfig(epochs=r.epochs, group_by_length=r.group_by_length, bf16=r.bf16),
    )


def retrain(ctx: typer.Context) -> None:
    """Train on the labels added since the current version, judge, promote, export; report what changed.

    Exit code 0: promoted, or too few new labels (nothing done); 3: refused by the promotion
    gate; 4: training failed. In every case but a promotion the current version keeps serving.
    """
    from models.retrain import run_retrain

    result = run_retrain(retrain_job(_settings(ctx)))
    out = {"status": result.status, "message": result.message, "version": result.version}
    out.update({k: result.report[k] for k in ("labels", "gate", "triton", "held_out") if k in result.report})
    _echo(out)
    sys.stderr.write(f"finsentry retrain: {result.message}\n")
    raise typer.Exit(EXIT_CODES[result.status])


def _since(value: str) -> datetime:
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"not an ISO time: {value!r}") from None
    if when.tzinfo is None:
        raise typer.BadParameter(f"give a timezone (e.g. {value}+00:00): all times are UTC-aware")
    return when


def rescore(
    ctx: typer.Context,
    since: Annotated[str, typer.Option(help="Re-score documents from this ISO time, e.g. 2026-11-01T00:00:00+00:00")],
    version: Annotated[str | None, typer.Option(help="Model version (default: current).")] = None,
    page_size: Annotated[int, typer.Option(min=1, max=10_000, help="Documents per read, score and write.")] = 256,
    progress: Annotated[bool, typer.Option(help="Show a progress bar on stderr.")] = True,
) -> None:
    """Re-score stored documents with a version, keeping their labels beside the new ones (resumable)."""
    from finsentry.app.factory import current_model, make_store
    from models.rescore import checkpoint_path
    from models.rescore import rescore as run_rescore

    settings = _settings(ctx)
    when = _since(since)
    scorer = current_model(settings, version=version).get()  # an unknown version is refused here
    state = run_rescore(
        make_store(settings),
        scorer,
        when,
        checkpoint_path(settings.home, scorer.version),
        page_size=page_size,
        progress=progress,
    )
    _echo(
        {
            "version": state.version,
            "since": state.since,
            "scored": state.scored,
            "skipped": state.skipped,
            "rejected": state.rejected,
            "scored_this_run": state.this_run,
            "seconds": state.seconds,
            "docs_per_s": state.docs_per_s,
        }
    )
