"""What a retraining run changed: per-class metrics, label counts, old-vs-new confusion, the gate.

Written next to the version as ``retrain.json`` and ``retrain.md``; the card's "Trained from"
section (``trained_from_section``) summarises the same run.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from models.labels import SENTIMENTS, TOPICS
from models.onnx_scorer import Scorer

HEADS = {"sentiment": SENTIMENTS, "topic": TOPICS}


def confusion(old: np.ndarray, new: np.ndarray, names: Sequence[str]) -> dict[str, Any]:
    """Old label x new label counts (only non-zero cells) and the share of unchanged labels."""
    cells: dict[str, dict[str, int]] = {}
    for o, n in zip(old.tolist(), new.tolist(), strict=True):
        row = cells.setdefault(names[o], {})
        row[names[n]] = row.get(names[n], 0) + 1
    agree = float((old == new).mean()) if len(old) else 1.0
    return {"n": len(old), "agreement": round(agree, 4), "matrix": cells}


def old_vs_new(old: Scorer, new: Scorer, texts: Sequence[str]) -> dict[str, Any]:
    """How the new version relabels ``texts`` (recent stored documents) against the old one."""
    if not texts:
        return {head: {"n": 0, "agreement": 1.0, "matrix": {}} for head in HEADS}
    a, b = old.score(list(texts)), new.score(list(texts))
    return {
        "sentiment": confusion(a.sentiment.argmax(1), b.sentiment.argmax(1), SENTIMENTS),
        "topic": confusion(a.topic.argmax(1), b.topic.argmax(1), TOPICS),
    }


def per_class_delta(old: dict[str, Any], new: dict[str, Any]) -> dict[str, dict[str, dict[str, float]]]:
    """Per head and class: old F1, new F1 (from two versions' validation metrics)."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for head in HEADS:
        new_rows = new.get(head, {}).get("per_class", {})
        old_rows = old.get(head, {}).get("per_class", {})
        out[head] = {
            name: {"old_f1": round(float(old_rows.get(name, {}).get("f1", 0.0)), 4), "new_f1": round(row["f1"], 4)}
            for name, row in new_rows.items()
        }
    return out


def trained_from_section(run: dict[str, Any]) -> list[str]:
    """The card's "Trained from" lines for a version a retraining run built."""
    lines = ["", "## Trained from", ""]
    start = f"continued from version `{run['init']}`" if run.get("init") else "trained from the base encoder"
    lines.append(f"- Retraining run of {run['started']}, {start}; labels collected up to {run['until']}.")
    lines.append(
        f"- New labels: {run['labels']['new']} ({run['labels']['train']} trained on, "
        f"{run['labels']['held_out']} held out and never trained on)."
    )
    lines += ["", "| label source | new labels |", "|---|---|"]
    lines += [f"| {source} | {n} |" for source, n in run["labels"]["sources"].items()]
    gate = run["gate"]
    verdict = "promoted" if gate["promoted"] else "not promoted"
    reasons = "; ".join(gate["reasons"]) if gate["reasons"] else "no head worse than the current version beyond noise"
    lines += ["", f"- Promotion gate against `{gate['against']}`: {verdict} ({reasons})."]
    return lines


def _f1_rows(title: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[str]:
    if not old or not new:
        return []
    lines = ["", f"## {title}", "", "| head | current F1 | new F1 | n |", "|---|---|---|---|"]
    for head in HEADS:
        o, n = old[head], new[head]
        lines.append(f"| {head} | {o['weighted_f1']:.4f} | {n['weighted_f1']:.4f} | {n['n']} |")
    return lines


def render_summary(report: dict[str, Any]) -> str:
    """The short markdown summary of a run (``retrain.md``)."""
    lines = [f"# Retraining run: {report['status']}", "", f"- {report['message']}"]
    if report.get("version"):
        lines.append(f"- Candidate `{report['version']}` against current `{report['current']}`.")
    labels = report.get("labels", {})
    if labels:
        lines.append(f"- New labels: {labels['new']} ({labels['held_out']} held out); sources: {labels['sources']}.")
    lines += _f1_rows(
        "Fixed validation split", report.get("validation", {}).get("current"), report.get("validation", {}).get("new")
    )
    lines += _f1_rows(
        "Held-out new labels", report.get("held_out", {}).get("current"), report.get("held_out", {}).get("new")
    )
    changes = report.get("recent_documents", {})
    if changes:
        lines += ["", "## Recent documents, old vs new model", ""]
        for head in HEADS:
            c = changes[head]
            lines.append(f"- {head}: {c['agreement']:.1%} of {c['n']} documents keep their label.")
    for head, rows in report.get("per_class", {}).items():
        lines += ["", f"### {head} per class F1 (validation)", "", "| class | current | new |", "|---|---|---|"]
        lines += [f"| {name} | {r['old_f1']:.3f} | {r['new_f1']:.3f} |" for name, r in rows.items()]
    return "\n".join(lines) + "\n"


def write_report(version_dir: Path, report: dict[str, Any]) -> None:
    """Write ``retrain.json`` and ``retrain.md`` next to the version."""
    (version_dir / "retrain.json").write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    (version_dir / "retrain.md").write_text(render_summary(report), encoding="utf-8")
