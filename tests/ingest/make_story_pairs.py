"""Builds fixtures/story_pairs.tsv (run once, output committed): labelled headline pairs for grouping.

Positives: the hand-written rewordings, plus wire variants of real headlines (UPDATE/BRIEF
prefixes, wire-name suffixes, a re-cased copy). Negatives: the hand-written hard negatives, plus
pairs of different real headlines that share a cashtag (same ticker, different story).
Usage: python tests/ingest/make_story_pairs.py /path/to/train.csv
"""

from __future__ import annotations

import csv
import random
import re
import sys
from pathlib import Path

HERE = Path(__file__).parent / "fixtures"
PREFIXES = ["UPDATE 1-", "UPDATE 2-", "BRIEF-", "RPT-", "REFILE-", "CORRECTED-"]
SUFFIXES = [" - Reuters", " | Reuters", " - Bloomberg", " - MarketWatch", " - Yahoo Finance", " - CNBC"]


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"https?://\S+", "", text)).replace("&amp;", "&").strip()


def main(path: str) -> None:
    rng = random.Random(15)
    with open(path, encoding="utf-8") as fh:
        rows = sorted({_clean(r["text"]) for r in csv.DictReader(fh)})
    rows = [r for r in rows if 35 <= len(r) <= 140]
    out = [line for line in (HERE / "story_pairs_handwritten.tsv").read_text().splitlines() if line[:1] in "01"]
    for text in rng.sample(rows, 120):
        recased = text.upper() if rng.random() < 0.3 else text.title()
        both = rng.choice(PREFIXES) + text + rng.choice(SUFFIXES)
        variant = rng.choice([rng.choice(PREFIXES) + text, text + rng.choice(SUFFIXES), both, recased])
        out.append(f"1\twire\t{text}\t{variant}")
    by_tag: dict[str, list[str]] = {}
    for text in rows:
        for tag in set(re.findall(r"\$[A-Z]{1,5}\b", text)):
            by_tag.setdefault(tag, []).append(text)
    groups = [g for g in by_tag.values() if len(g) >= 2]
    for _ in range(120):
        a, b = rng.sample(rng.choice(groups), 2)
        out.append(f"0\tsame-ticker\t{a}\t{b}")
    (HERE / "story_pairs.tsv").write_text("# label\tkind\theadline a\theadline b\n" + "\n".join(out) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
