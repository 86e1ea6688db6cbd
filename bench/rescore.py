"""Re-score N stored documents with `finsentry rescore`, killed halfway and resumed; prints JSON.

Checks what the command promises at archive scale (each document scored once per version,
old labels kept) and measures its throughput:

    python bench/rescore.py --docs 10000 --page-size 256
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from finsentry.ids import doc_id
from finsentry.protocols import SearchQuery
from finsentry.schemas import NewsItem, Prediction, ScoredDoc
from finsentry.store.sqlite import SqliteStore
from models.dataset import load_base
from models.registry import ModelRegistry
from models.rescore import checkpoint_path

SINCE = datetime(2026, 1, 1, tzinfo=UTC)


def _docs(n: int) -> list[ScoredDoc]:
    texts = [ex.text for ex in load_base()]
    out = []
    for i in range(n):
        url = f"https://bench.example.com/{i}"
        item = NewsItem(
            id=doc_id(url),
            source="bench",
            url=url,
            title=texts[i % len(texts)],
            published_at=SINCE + timedelta(seconds=i * 7),
        )
        pred = Prediction(
            sentiment="neutral",
            sentiment_scores={"neutral": 1.0},
            topic="Markets",
            topic_scores={"Markets": 1.0},
            model_version="old-model",
        )
        out.append(ScoredDoc.from_prediction(item, pred))
    return out


def _cli(home: Path, page_size: int) -> subprocess.Popen[bytes]:
    argv = [
        sys.executable,
        "-m",
        "finsentry.app.cli",
        "rescore",
        "--since",
        SINCE.isoformat(),
        "--page-size",
        str(page_size),
        "--no-progress",
    ]
    env = {**os.environ, "FINSENTRY_HOME": str(home), "FINSENTRY_LOG_LEVEL": "WARNING"}
    return subprocess.Popen(argv, env=env, stdout=subprocess.PIPE)


def main() -> None:
    """Store N documents, rescore, SIGKILL at half, rescore again, check and report."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--docs", type=int, default=10_000)
    ap.add_argument("--page-size", type=int, default=256)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        store = SqliteStore(home / "finsentry.db")
        store.upsert(_docs(args.docs))
        version = ModelRegistry(home / "models").current().name
        cp = checkpoint_path(home, version)
        first = _cli(home, args.page_size)
        while not (cp.is_file() and json.loads(cp.read_text())["scored"] >= args.docs // 2):
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait()
        before = (
            {
                d.id: d.rescored[version].scored_at
                for d in store.search(SearchQuery(limit=10_000))
                if version in d.rescored
            }
            if args.docs <= 10_000
            else {}
        )
        started = time.monotonic()
        out, _ = _cli(home, args.page_size).communicate()
        wall = time.monotonic() - started
        summary = json.loads(out)
        docs = store.search(SearchQuery(limit=min(args.docs, 10_000)))
        twice = sum(1 for d in docs if d.id in before and d.rescored[version].scored_at != before[d.id])
        result = {
            "docs": args.docs,
            "page_size": args.page_size,
            "killed_after": len(before),
            "resumed_scored": summary["scored_this_run"],
            "scored_total": summary["scored"],
            "scored_twice": twice,
            "old_labels_kept": all(d.model_version == "old-model" for d in docs),
            "docs_per_s": summary["docs_per_s"],
            "resume_wall_s": round(wall, 1),
        }
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
