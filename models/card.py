"""The model card: what a version was trained on, how well it does, and where it fails."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from models.retrain_report import trained_from_section


def _class_table(per_class: dict[str, dict[str, float]]) -> list[str]:
    lines = ["| class | precision | recall | F1 | support |", "|---|---|---|---|---|"]
    for name, row in per_class.items():
        lines.append(
            f"| {name} | {row['precision']:.3f} | {row['recall']:.3f} | {row['f1']:.3f} | {int(row['support'])} |"
        )
    return lines


def render_card(meta: dict[str, Any]) -> str:
    """Markdown model card from a version's ``meta.json``."""
    m, data, cfg = meta["metrics"], meta["data"], meta["config"]
    lines = [
        f"# Model card: {meta['version']}",
        "",
        f"- Base: {meta['base_model']}, fine-tuned end to end with two heads (sentiment, topic)"
        + (f", distilled from version `{meta['teacher']}`" if meta.get("teacher") else "")
        + (f", continued from version `{meta['init']}`" if meta.get("init") else "")
        + ".",
        f"- Created: {meta['created']}; training took {meta['train_seconds']} s on CPU.",
        f"- Data: vendored twitter-financial-news sentiment + topic train splits (MIT), "
        f"{data['rows']} rows ({data['train']} train / {data['validation']} validation), "
        f"{data['new_labels']} new labels{' from ' + data['label_source'] if data['label_source'] else ''}.",
        f"- Data hash (SHA-256): `{data['hash']}`",
        f"- Training: {cfg['epochs']} epochs, lr {cfg['lr']}, batch {cfg['batch_size']}, "
        f"max length {cfg['max_length']}, seed {cfg['seed']}"
        + (", bf16 autocast" if cfg.get("bf16") else "")
        + (", length-grouped batches" if cfg.get("group_by_length") else "")
        + ".",
        f"- Calibration: temperature sentiment {meta['temperatures']['sentiment']:.3f}, "
        f"topic {meta['temperatures']['topic']:.3f} (fitted on validation).",
        "- Served as ONNX (weights stored as per-channel int8), one document per call, so a",
        "  document's scores never depend on the other documents in its batch. Default",
        "  arithmetic is int8 (`FINSENTRY_MODEL__PRECISION=int8`); metrics below are of that,",
        "  with fp32 arithmetic (`=fp32`, and the NVIDIA Triton export) alongside.",
        "",
        "## Metrics on the fixed validation split (base data, content-hash split)",
        "",
        "| head | arithmetic | weighted F1 | accuracy | ECE | n |",
        "|---|---|---|---|---|---|",
    ]
    for head in ("sentiment", "topic"):
        for label, source in (("int8 (default)", m), ("fp32", meta.get("metrics_fp32"))):
            if source:
                h = source[head]
                lines.append(
                    f"| {head} | {label} | {h['weighted_f1']:.4f} | {h['accuracy']:.4f} | {h['ece']:.4f} | {h['n']} |"
                )
    for head in ("sentiment", "topic"):
        lines += ["", f"### {head} per class (int8 arithmetic)", "", *_class_table(m[head]["per_class"])]
    if meta.get("retrain"):
        lines += trained_from_section(meta["retrain"])
    lines += [
        "",
        "## Limits",
        "",
        "- Trained on short English headlines as tweeted by news outlets; long articles are",
        "  truncated to the first tokens, other languages are out of scope.",
        "- Sentiment means market direction for the named asset (bearish/bullish), not tone.",
        "- Small topic classes (IPO, Gold | Metals | Materials, Currencies) have few examples;",
        "  their per-class F1 is the least reliable.",
        "- Validation is a split of the same sources; held-out data from other outlets may score lower.",
    ]
    return "\n".join(lines) + "\n"


def write_card(version_dir: Path, meta: dict[str, Any]) -> None:
    """Write ``card.md`` beside the version's weights."""
    (version_dir / "card.md").write_text(render_card(meta), encoding="utf-8")


def write_ensemble_card(version_dir: Path, meta: dict[str, Any]) -> None:
    """Write ``card.md`` for an ensemble version: its members, per-head weights and metrics."""
    lines = [
        f"# Model card: {meta['version']} (ensemble)",
        "",
        "Averages its members' calibrated probabilities with per-head weights; every member with a",
        "weight scores every document, so it costs the sum of those. Scores text locally only (members",
        "tokenise differently, so Triton clients' token ids cannot feed it).",
        "",
        "| member | sentiment weight | topic weight |",
        "|---|---|---|",
    ]
    for i, name in enumerate(meta["members"]):
        lines.append(f"| `{name}` | {meta['weights']['sentiment'][i]:.3f} | {meta['weights']['topic'][i]:.3f} |")
    lines += ["", "## Metrics on the fixed validation split", "", "| head | arithmetic | weighted F1 | ECE | n |"]
    lines.append("|---|---|---|---|---|")
    for head in ("sentiment", "topic"):
        for label, key in (("int8", "metrics"), ("fp32", "metrics_fp32")):
            h = meta[key][head]
            lines.append(f"| {head} | {label} | {h['weighted_f1']:.4f} | {h['ece']:.4f} | {h['n']} |")
    lines += ["", "Per-class results and limits: see each member's card."]
    (version_dir / "card.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
