"""Train → calibrate → export → evaluate → write a new registry version."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from finsentry.errors import ModelError
from models.bases import base_encoder, version_base
from models.card import write_card
from models.dataset import IGNORE, Example, data_hash, load_base, split
from models.distill import teacher_targets
from models.export import export_onnx
from models.labels import SENTIMENTS, TOPICS
from models.metrics import expected_calibration_error, fit_temperature, per_class_f1, softmax, weighted_f1
from models.onnx_scorer import OnnxScorer, Scorer
from models.registry import ModelRegistry
from models.torch_scorer import ENCODER_CONFIG
from models.train import TrainConfig, predict_logits, save_checkpoint, train_model

log = logging.getLogger(__name__)
HEAD_NAMES = {"sentiment": SENTIMENTS, "topic": TOPICS}


def merge(base: Sequence[Example], extra: Sequence[Example]) -> list[Example]:
    """Base data plus new labels; a new label for a known text overrides that head."""
    merged: dict[str, Example] = {}
    for ex in [*base, *extra]:
        key = ex.text.strip()
        old = merged.get(key)
        if old is None:
            merged[key] = ex
            continue
        merged[key] = Example(
            old.text,
            ex.sentiment if ex.sentiment != IGNORE else old.sentiment,
            ex.topic if ex.topic != IGNORE else old.topic,
        )
    return list(merged.values())


def _labels(rows: Sequence[Example], head: str) -> np.ndarray:
    return np.array([getattr(ex, head) for ex in rows])


def head_metrics(probs: np.ndarray, y: np.ndarray, names: Sequence[str]) -> dict[str, Any]:
    """Weighted F1, accuracy, per-class table and ECE for rows that carry this head's label."""
    keep = y != IGNORE
    probs, y = probs[keep], y[keep]
    pred = probs.argmax(axis=1)
    classes = per_class_f1(y, pred, len(names))
    return {
        "n": len(y),
        "weighted_f1": weighted_f1(y, pred, len(names)),
        "accuracy": float((pred == y).mean()) if len(y) else 0.0,
        "ece": expected_calibration_error(probs, y) if len(y) else 0.0,
        "per_class": {name: row for name, row in zip(names, classes, strict=True)},
    }


def evaluate(scorer: Scorer, rows: Sequence[Example]) -> dict[str, Any]:
    """Metrics of the served model (an ONNX version or an ensemble) on ``rows``."""
    scores = scorer.score([ex.text for ex in rows])
    return {
        "sentiment": head_metrics(scores.sentiment, _labels(rows, "sentiment"), SENTIMENTS),
        "topic": head_metrics(scores.topic, _labels(rows, "topic"), TOPICS),
    }


def _temperatures(logits: tuple[np.ndarray, np.ndarray], rows: Sequence[Example]) -> dict[str, float]:
    temps = {}
    for head, lg in zip(("sentiment", "topic"), logits, strict=True):
        y = _labels(rows, head)
        keep = y != IGNORE
        temps[head] = fit_temperature(lg[keep], y[keep])
    return temps


def _meta(name: str, cfg: TrainConfig, base: Path, temps: dict[str, float], data: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": name,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "base_model": base_encoder(cfg.base).label,
        "base_path": base.name,
        "config": asdict(cfg),
        "max_length": cfg.max_length,
        "temperatures": temps,
        "labels": {"sentiment": list(SENTIMENTS), "topic": list(TOPICS)},
        "data": data,
    }


def build_version(
    registry: ModelRegistry,
    cfg: TrainConfig,
    base: Path,
    extra: Sequence[Example] = (),
    label_source: str = "",
    teacher: Path | None = None,
    init: Path | None = None,
) -> Path:
    """Train a new version on base data + ``extra`` and write it to the registry.

    Metrics are measured on the fixed validation split of the *base* data, so every
    version is judged on the same rows; new labels' own validation rows are reported apart.

    Args:
        registry: where the version is written.
        cfg: hyper-parameters, including which base encoder ``cfg.base`` names.
        base: that base encoder's folder (``models.bases.base_dir``).
        extra: new labels merged over the base data.
        label_source: the new labels' file name, for the card.
        teacher: a registry version whose scores the student learns too (``cfg.distill`` > 0).
        init: a registry version of the same base to continue training from (warm start).

    Raises:
        ModelError: ``init`` has another base or no saved fp32 weights (bundled versions).
    """
    init_weights = _init_weights(init, cfg.base) if init else None
    base_rows = load_base()
    rows = merge(base_rows, extra)
    train_rows, val_rows = split(rows)
    digest = data_hash(rows)
    out = registry.new_version_dir(digest)
    log.info("training %s on %d rows (%d validation)", out.name, len(train_rows), len(val_rows))
    started = time.time()
    soft = teacher_targets(teacher, train_rows, threads=cfg.threads) if teacher else None
    model, tok = train_model(train_rows, cfg, base, soft=soft, init=init_weights)
    save_checkpoint(model, out / "weights.pt")
    temps = _temperatures(predict_logits(model, tok, val_rows, cfg.max_length), val_rows)
    export_onnx(model, out / "model.onnx")
    tok.save_pretrained(str(out / "tokenizer"))
    model.encoder.config.to_json_file(str(out / ENCODER_CONFIG))  # the GPU scorer rebuilds the encoder from it
    data = {
        "hash": digest,
        "rows": len(rows),
        "train": len(train_rows),
        "validation": len(val_rows),
        "new_labels": len(extra),
        "label_source": label_source,
    }
    meta = _meta(out.name, cfg, base, temps, data)
    meta["train_seconds"] = round(time.time() - started, 1)
    meta.update({k: v.name for k, v in (("teacher", teacher), ("init", init)) if v is not None})
    (out / "meta.json").write_text(json.dumps(meta, indent=2))  # the scorers read it
    _evaluate(out, meta, (model, tok), split(base_rows)[1], split(extra)[1])
    return out


def _evaluate(
    out: Path, meta: dict[str, Any], trained: tuple[Any, Any], base_val: Sequence[Example], new_val: Sequence[Example]
) -> None:
    """Score the written version as served, add metrics and calibration to its meta, write its card."""
    model, tok = trained
    meta.update(_served_metrics(out, base_val, new_val))
    meta["calibration"] = _calibration_report(model, tok, base_val, meta["max_length"], meta["temperatures"])
    (out / "meta.json").write_text(json.dumps(meta, indent=2))
    write_card(out, meta)


def _served_metrics(out: Path, base_val: Sequence[Example], new_val: Sequence[Example]) -> dict[str, Any]:
    """Metrics of the exported model as served: the default int8 arithmetic, and fp32 beside it."""
    scorer = OnnxScorer(out)
    metrics = {
        "metrics": evaluate(scorer, base_val),
        "metrics_fp32": evaluate(OnnxScorer(out, precision="fp32"), base_val),
    }
    if new_val:
        metrics["metrics_new_labels"] = evaluate(scorer, new_val)
    return metrics


def _init_weights(version: Path, base: str) -> Path:
    meta = json.loads((version / "meta.json").read_text())
    if version_base(meta) != base:
        raise ModelError(f"cannot continue {version.name} (base {version_base(meta)}) as a {base} model")
    weights = version / "weights.pt"
    if not weights.is_file():
        raise ModelError(f"{version.name} has no fp32 weights.pt to continue from (bundled versions ship int8 only)")
    return weights


def _calibration_report(
    model: Any, tok: Any, rows: Sequence[Example], max_length: int, temps: dict[str, float]
) -> dict[str, dict[str, float]]:
    logits = predict_logits(model, tok, rows, max_length)
    report = {}
    for head, lg in zip(("sentiment", "topic"), logits, strict=True):
        y = _labels(rows, head)
        keep = y != IGNORE
        report[head] = {
            "ece_raw": expected_calibration_error(softmax(lg[keep]), y[keep]),
            "ece_calibrated": expected_calibration_error(softmax(lg[keep], temps[head]), y[keep]),
            "temperature": temps[head],
        }
    return report
