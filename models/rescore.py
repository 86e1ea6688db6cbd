"""Re-score stored documents with a model version, keeping their own labels beside the new ones.

Resumable and idempotent: the position (a cursor in the store's newest-first order) is
checkpointed under FINSENTRY_HOME per version after every durable page, and a document
that already holds the version's labels is skipped, so a run killed at any point and started
again scores each document once per version.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tqdm import tqdm

from finsentry.errors import ModelError
from finsentry.protocols import DocumentStore, SearchQuery, cursor_of
from finsentry.schemas import Rescore, ScoredDoc, signed_score
from models.classifiers import to_predictions
from models.onnx_scorer import Scorer

log = logging.getLogger(__name__)


@dataclass
class RescoreProgress:
    """Where a run stands; saved as the checkpoint and returned as the run's summary."""

    version: str
    since: str
    after: str | None = None
    ties: list[str] = field(default_factory=list)  # ids walked at the cursor's time
    scored: int = 0
    skipped: int = 0
    rejected: int = 0
    this_run: int = 0  # scored by this process (the others before a resume)
    seconds: float = 0.0  # this process's time
    done: bool = False

    @property
    def docs_per_s(self) -> float:
        """Documents scored per second by this process."""
        return round(self.this_run / self.seconds, 1) if self.seconds else 0.0


def checkpoint_path(home: Path, version: str) -> Path:
    """The checkpoint of ``version``'s re-scoring under FINSENTRY_HOME."""
    return home / "rescore" / f"{version}.json"


def load_checkpoint(path: Path, version: str, since: datetime) -> RescoreProgress:
    """The saved position for the same version and start time, else a fresh start."""
    fresh = RescoreProgress(version, since.isoformat())
    if not path.is_file():
        return fresh
    saved = RescoreProgress(**json.loads(path.read_text(encoding="utf-8")))
    if saved.since != fresh.since or saved.done:
        return fresh  # another range, or a finished run: walk again (scored documents are skipped)
    saved.this_run = 0
    return saved


def _save(path: Path, progress: RescoreProgress) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(progress)), encoding="utf-8")
    tmp.replace(path)


def _key(cursor: str) -> tuple[int, str]:
    micros, _, doc_id = cursor.partition(":")
    return int(micros), doc_id


def _time(doc: ScoredDoc) -> int:
    return _key(cursor_of(doc))[0]


def next_page(
    store: DocumentStore, since: datetime, cursor: str | None, ties: Sequence[str], size: int
) -> tuple[list[ScoredDoc], bool]:
    """The next documents after ``cursor``, and whether more may follow.

    ``ties`` are the ids already walked at the cursor's time. ``until`` bounds the page as
    well as ``after``, and the page is filtered here, so the walk stays exact with a store
    that pages by time only, whichever way it orders documents of equal time.

    Raises:
        ModelError: more than ``size`` documents share one time and the store ignores the cursor.
    """
    until, done = None, set(ties)
    if cursor is not None:
        until = datetime.fromtimestamp(0, UTC) + timedelta(microseconds=_key(cursor)[0] + 1)
    page = store.search(SearchQuery(since=since, until=until, after=cursor, limit=size))
    last = _key(cursor)[0] if cursor is not None else None
    fresh = [d for d in page if last is None or _time(d) < last or (_time(d) == last and d.id not in done)]
    if not fresh and len(page) == size:
        raise ModelError(f"the document store ignores the search cursor and {size}+ documents share one time")
    return fresh, len(page) == size


def _advance(state: RescoreProgress, page: Sequence[ScoredDoc]) -> None:
    """Move the cursor past ``page``, remembering the ids walked at its time."""
    before = _key(state.after)[0] if state.after else None
    state.after = cursor_of(page[-1])
    now = _time(page[-1])
    walked = [d.id for d in page if _time(d) == now]
    state.ties = [*state.ties, *walked] if before == now else walked


def rescored_copy(doc: ScoredDoc, version: str, scores: Rescore) -> ScoredDoc:
    """``doc`` with ``version``'s labels added beside its own."""
    return doc.model_copy(update={"rescored": {**doc.rescored, version: scores}})


def score_docs(scorer: Scorer, docs: Sequence[ScoredDoc]) -> list[ScoredDoc]:
    """Each document with the scorer's labels added under its version."""
    preds = to_predictions(scorer.score([d.text for d in docs]), scorer.version)
    out = []
    for doc, p in zip(docs, preds, strict=True):
        r = Rescore(
            sentiment=p.sentiment,
            sentiment_score=p.sentiment_scores[p.sentiment],
            topic=p.topic,
            topic_score=p.topic_scores[p.topic],
            signed_score=signed_score(p.sentiment_scores),
        )
        out.append(rescored_copy(doc, scorer.version, r))
    return out


def _needs(doc: ScoredDoc, version: str) -> bool:
    return doc.model_version != version and version not in doc.rescored


def rescore(
    store: DocumentStore, scorer: Scorer, since: datetime, checkpoint: Path, page_size: int = 256, progress: bool = True
) -> RescoreProgress:
    """Re-score every stored document since ``since`` with ``scorer``, resuming from ``checkpoint``.

    Returns:
        The totals of the whole walk (including before a resume); ``docs_per_s`` of this run.
    """
    state = load_checkpoint(checkpoint, scorer.version, since)
    bar = tqdm(desc=f"rescore {scorer.version}", unit="doc", disable=not progress, mininterval=2.0)
    started = time.monotonic()
    more = True
    while more:
        page, more = next_page(store, since, state.after, state.ties, page_size)
        if not page:
            break
        todo = [d for d in page if _needs(d, scorer.version)]
        if todo:
            rejected = store.upsert(score_docs(scorer, todo))
            state.rejected += len(rejected)
            for r in rejected:
                log.warning("store refused re-scored %s: %s", r.doc_id, r.reason)
        state.scored += len(todo)
        state.skipped += len(page) - len(todo)
        state.this_run += len(todo)
        _advance(state, page)
        _save(checkpoint, state)  # after the write is durable: a restart re-reads at most nothing
        bar.update(len(page))
    state.done, state.seconds = True, round(time.monotonic() - started, 2)
    _save(checkpoint, state)
    bar.close()
    log.info("re-scored %d documents with %s (%d docs/s)", state.this_run, scorer.version, state.docs_per_s)
    return state
