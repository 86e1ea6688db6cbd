"""The retraining job: new labels → train → judge → promote → export, with a report.

Safe to run from cron: a file lock keeps two runs from overlapping, and a run that fails
or that the gate refuses leaves the current version serving and says why.
"""

from __future__ import annotations

import fcntl
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from finsentry.errors import FinsentryError, ModelError, PromotionRefused
from finsentry.protocols import DocumentStore, LabelStore, SearchQuery
from models.bases import base_dir, version_base
from models.card import write_card
from models.dataset import Example
from models.ensemble import is_ensemble, open_scorer
from models.onnx_scorer import OnnxScorer
from models.pipeline import build_version, evaluate
from models.registry import ModelRegistry, VersionInfo
from models.retrain_labels import Collected, NewLabel, collect, holdout
from models.retrain_report import old_vs_new, per_class_delta, write_report
from models.train import TrainConfig
from models.triton_export import export_next_version

log = logging.getLogger(__name__)
Status = Literal["promoted", "refused", "too_few", "failed"]


class RetrainBusy(ModelError):
    """Another retraining run holds the lock."""


@dataclass(frozen=True)
class RetrainJob:
    """Everything one run needs, built from settings by the CLI.

    Args:
        registry: the model registry (the current version, new versions, promotion).
        labels: the label store of analysts' corrections (None: label files only).
        documents: the document store, for the old-vs-new comparison on recent documents.
        labels_dir: the folder label files are dropped into.
        bases_cache: where packaged base encoders are unpacked.
        lock_path: the lock file that keeps runs apart.
        min_labels: fewer new labels than this: stop before training.
        from_base: train from the base encoder instead of continuing the current version.
        holdout_percent: share of the new labels never trained on, measured apart.
        recent_docs: stored documents, newest first, to compare old and new labels on.
        triton_repository: a live Triton model repository to add a promoted version to.
        distill: weight of the current version's soft targets when training from the base
            encoder (0: off): the student keeps what the serving model knows while it learns
            the new labels, instead of starting from the vendored hard labels alone.
        config: training hyper-parameters (``epochs`` and ``base`` are decided per run).
    """

    registry: ModelRegistry
    labels: LabelStore | None
    documents: DocumentStore | None
    labels_dir: Path
    bases_cache: Path
    lock_path: Path
    min_labels: int = 50
    from_base: bool = False
    holdout_percent: int = 20
    recent_docs: int = 500
    triton_repository: Path | None = None
    distill: float = 0.0
    config: TrainConfig = field(default_factory=TrainConfig)


@dataclass
class RetrainResult:
    """A run's outcome; ``report`` is what ``retrain.json`` holds."""

    status: Status
    message: str
    report: dict[str, Any]
    version: str | None = None


@contextmanager
def retrain_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` for the run; the OS releases it if the process dies.

    Raises:
        RetrainBusy: another run holds it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RetrainBusy(f"another retraining run holds {path}; not starting a second one") from None
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def training_start(current: VersionInfo, from_base: bool) -> tuple[Path | None, str]:
    """The version to continue (None: the base encoder) and why."""
    if from_base:
        return None, "configured to train from the base encoder"
    if not (current.path / "weights.pt").is_file():
        return None, f"current version {current.name} has no fp32 weights to continue (bundled or ensemble)"
    return current.path, f"continues current version {current.name}"


def distillation_teacher(job: RetrainJob, current: VersionInfo, init: Path | None) -> Path | None:
    """The current version as the teacher of a run from the base encoder, where it can score text."""
    if init is not None or job.distill <= 0 or is_ensemble(current.meta):
        return None
    return current.path if (current.path / "model.onnx").is_file() else None


def run_retrain(job: RetrainJob) -> RetrainResult:
    """One retraining run under the lock.

    Raises:
        RetrainBusy: another run is in progress.
        LabelFileError: a dropped label file is malformed (nothing was trained).
    """
    with retrain_lock(job.lock_path):
        return _run(job)


def _run(job: RetrainJob) -> RetrainResult:
    started = datetime.now(UTC)
    current = job.registry.current()
    collected = collect(job.labels, job.labels_dir, current.meta.get("retrain", {}), everything=job.from_base)
    sources = collected.counts()
    counts = {"new": len(collected.new), "sources": sources, "skipped": collected.skipped}
    if len(collected.new) < job.min_labels:
        message = (
            f"{len(collected.new)} new labels since {current.name} was trained, fewer than the "
            f"{job.min_labels} required (retrain.min_labels): nothing trained, {current.name} keeps serving"
        )
        return RetrainResult("too_few", message, {"status": "too_few", "message": message, "labels": counts})
    train, held = holdout(collected.labels, job.holdout_percent)
    init, start_note = training_start(current, job.from_base)
    teacher = distillation_teacher(job, current, init)
    if teacher is not None:
        start_note += f"; distilled from {current.name} (weight {job.distill:g})"
    log.info("retraining on %d new labels (%d held out): %s", len(collected.new), len(held), start_note)
    cfg = replace(job.config, base=version_base(current.meta), distill=job.distill if teacher else 0.0)
    try:
        out = build_version(
            job.registry,
            cfg,
            base_dir(cfg.base, job.bases_cache),
            [x.example for x in train],
            label_source=", ".join(f"{k} ({v})" for k, v in sources.items()),
            init=init,
            teacher=teacher,
        )
    except Exception as exc:  # any training failure ends the run; the current model stays
        log.exception("retraining failed")
        message = f"training failed ({type(exc).__name__}: {exc}); {current.name} keeps serving"
        return RetrainResult("failed", message, {"status": "failed", "message": message, "labels": counts})
    run = _run_meta(started, collected, train, held, init, start_note)
    return _judge_and_promote(job, current, job.registry.get(out.name), run, [x.example for x in held])


def _run_meta(
    started: datetime,
    collected: Collected,
    train: list[NewLabel],
    held: list[NewLabel],
    init: Path | None,
    note: str,
) -> dict[str, Any]:
    return {
        "started": started.isoformat(timespec="seconds"),
        "until": collected.until.isoformat(),
        "init": init.name if init else None,
        "start": note,
        "label_files": collected.files,
        "labels": {
            "new": len(collected.new),
            "train": len(train),
            "held_out": len(held),
            "sources": collected.counts(),
            "skipped": collected.skipped,
        },
    }


def _judge_and_promote(
    job: RetrainJob, current: VersionInfo, candidate: VersionInfo, run: dict[str, Any], held: list[Example]
) -> RetrainResult:
    reasons = job.registry.judge(candidate, current)
    run["gate"] = {"against": current.name, "promoted": not reasons, "reasons": reasons}
    report = _report(job, current, candidate, run, held)
    if not reasons:
        try:
            job.registry.promote(candidate.name)
        except PromotionRefused as exc:  # the current version changed under us (a manual promotion)
            reasons = [str(exc)]
            run["gate"].update(promoted=False, reasons=reasons)
    status: Status = "refused" if reasons else "promoted"
    if reasons:
        message = f"{candidate.name} refused by the promotion gate: {'; '.join(reasons)}; {current.name} keeps serving"
    else:
        message = f"{candidate.name} promoted over {current.name}"
        report["triton"] = _export(job, candidate)
    report.update(status=status, message=message, gate=run["gate"])
    _write_version_meta(candidate, run)
    write_report(candidate.path, report)
    log.info("%s", message)
    return RetrainResult(status, message, report, candidate.name)


def _export(job: RetrainJob, candidate: VersionInfo) -> str | None:
    if job.triton_repository is None:
        return None
    try:
        return str(export_next_version(candidate.path, job.triton_repository))
    except FinsentryError as exc:  # an ensemble: local workers follow it, Triton cannot
        log.warning("not exported to Triton: %s", exc)
        return None


def _write_version_meta(candidate: VersionInfo, run: dict[str, Any]) -> None:
    """Record the run in the version's meta (atomically: workers may be loading it) and card."""
    meta = {**candidate.meta, "retrain": run}
    tmp = candidate.path / "meta.json.tmp"
    tmp.write_text(json.dumps(meta, indent=2), encoding="utf-8")
    tmp.replace(candidate.path / "meta.json")
    write_card(candidate.path, meta)


def _report(
    job: RetrainJob, current: VersionInfo, candidate: VersionInfo, run: dict[str, Any], held: list[Example]
) -> dict[str, Any]:
    old = open_scorer(job.registry, current.name)
    new = OnnxScorer(candidate.path)
    docs = job.documents.search(SearchQuery(limit=job.recent_docs)) if job.documents and job.recent_docs else []
    report: dict[str, Any] = {
        "version": candidate.name,
        "current": current.name,
        "labels": run["labels"],
        "start": run["start"],
        "validation": {"current": current.meta.get("metrics"), "new": candidate.meta["metrics"]},
        "per_class": per_class_delta(current.meta.get("metrics", {}), candidate.meta["metrics"]),
        "recent_documents": old_vs_new(old, new, [d.text for d in docs]),
    }
    if held:
        report["held_out"] = {"current": evaluate(old, held), "new": evaluate(new, held)}
    return report
