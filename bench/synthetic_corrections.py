"""Write a synthetic correction file (JSON lines) like the dashboard exports, for a retraining run.

    python bench/synthetic_corrections.py --rows 200 > var/labels/corrections.jsonl

Headlines are built from templates whose label is unambiguous (sentiment and topic), over a
set of invented company names, so none of them is in the vendored training data.
"""

from __future__ import annotations

import argparse
import json
import random
import sys

COMPANIES = ("Acmeco", "Borealis Tech", "Cindral", "Dunmore Energy", "Elkfield Bank", "Frostline", "Garnet Mining")
TEMPLATES = (
    ("{c} shares plunge after profit warning", "negative", "Earnings"),
    ("{c} posts record quarterly profit, beats estimates", "positive", "Earnings"),
    ("{c} to cut 2,000 jobs as sales slump", "negative", "Company | Product News"),
    ("{c} raises dividend by 15%", "positive", "Dividend"),
    ("{c} names new chief financial officer", "neutral", "Personnel Change"),
    ("{c} agrees to buy rival in $3 billion deal", "positive", "M&A | Investments"),
    ("Regulators fine {c} over misleading disclosures", "negative", "Legal | Regulation"),
    ("{c} files for IPO on Nasdaq", "neutral", "IPO"),
    ("Analysts downgrade {c} to sell on weak outlook", "negative", "Analyst Update"),
    ("{c} stock jumps 12% in early trading", "positive", "Stock Movement"),
)


def rows(n: int, seed: int) -> list[dict[str, str]]:
    """``n`` distinct labelled headlines, deterministic for ``seed``."""
    rng = random.Random(seed)
    pairs = [(t, c) for t in TEMPLATES for c in COMPANIES]
    out = []
    for i in range(n):
        (template, sentiment, topic), company = pairs[i % len(pairs)]
        suffix = "" if i < len(pairs) else f" ({rng.choice(['report', 'update', 'wire'])} {i})"
        out.append({"text": template.format(c=company) + suffix, "sentiment": sentiment, "topic": topic})
    return out


def main() -> None:
    """Print the file on stdout."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=200)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    sys.stdout.writelines(json.dumps(r) + "\n" for r in rows(args.rows, args.seed))


if __name__ == "__main__":
    main()
