"""Precision and recall of ticker linking on the labelled headlines (micro-averaged over mentions)."""

from __future__ import annotations

from pathlib import Path

from ingest.tickers import link_tickers

LABELLED = Path(__file__).parent / "fixtures" / "ticker_headlines.tsv"


def ticker_scores() -> dict[str, float]:
    tp = fp = fn = rows = 0
    for line in LABELLED.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        gold_text, headline = line.split("\t", 1)
        gold = set(gold_text.split())
        found = {m.ticker for m in link_tickers(headline, "")}
        tp, fp, fn, rows = tp + len(gold & found), fp + len(found - gold), fn + len(gold - found), rows + 1
    return {"headlines": rows, "precision": tp / max(tp + fp, 1), "recall": tp / max(tp + fn, 1), "mentions": tp + fn}
