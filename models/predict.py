"""JSON lines in, predictions out, in input order; bad lines get an error record, not a guess."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from finsentry.schemas import Prediction

ClassifyFn = Callable[[Sequence[str]], list[Prediction]]


def _parse(line_no: int, line: str) -> tuple[Any, str | None, str | None]:
    """(id, text, error) of one input line."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        return None, None, f"line {line_no}: malformed JSON ({exc.msg})"
    if not isinstance(obj, dict):
        return None, None, f"line {line_no}: expected a JSON object"
    text = obj.get("text")
    if not isinstance(text, str):
        return obj.get("id"), None, f"line {line_no}: 'text' must be a string"
    if not text.strip():
        return obj.get("id"), None, f"line {line_no}: empty text"
    return obj.get("id"), text, None


def predict_lines(lines: Iterable[str], classify: ClassifyFn, chunk: int = 256) -> Iterator[dict[str, Any]]:
    """Yield one output record per non-blank input line, in input order.

    Lines are classified ``chunk`` at a time so that batching pays off without holding
    the whole input in memory.
    """
    pending: list[tuple[Any, str | None, str | None]] = []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        pending.append(_parse(n, line))
        if len(pending) >= chunk:
            yield from _flush(pending, classify)
            pending = []
    yield from _flush(pending, classify)


def _flush(pending: list[tuple[Any, str | None, str | None]], classify: ClassifyFn) -> Iterator[dict[str, Any]]:
    texts = [text for _, text, err in pending if err is None and text is not None]
    preds = iter(classify(texts) if texts else [])
    for doc_id, _text, err in pending:
        if err is not None:
            yield {"id": doc_id, "error": err}
            continue
        p = next(preds)
        yield {
            "id": doc_id,
            "sentiment": p.sentiment,
            "sentiment_scores": p.sentiment_scores,
            "topic": p.topic,
            "topic_scores": p.topic_scores,
            "model_version": p.model_version,
        }
