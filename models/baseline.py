"""Multinomial Naive Bayes over words: the honest reference the fine-tuned model must beat."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

from models.dataset import IGNORE, Example, data_hash, load_base, split
from models.labels import SENTIMENTS, TOPICS
from models.metrics import softmax
from models.onnx_scorer import HeadScores
from models.text import normalize

_WORD = re.compile(r"[a-z0-9$%']+")


def words(text: str) -> list[str]:
    """Lower-cased word tokens (cashtags and percentages kept whole)."""
    return _WORD.findall(normalize(text).lower())


class _Head:
    def __init__(self, rows: Sequence[tuple[list[str], int]], n_classes: int, alpha: float = 0.5) -> None:
        counts = [Counter[str]() for _ in range(n_classes)]
        prior = np.full(n_classes, alpha)
        for toks, label in rows:
            counts[label].update(toks)
            prior[label] += 1
        self.vocab = {w: i for i, w in enumerate(sorted(set().union(*counts)))}
        table = np.full((n_classes, len(self.vocab)), alpha)
        for c, counter in enumerate(counts):
            for w, n in counter.items():
                table[c, self.vocab[w]] += n
        self.log_prob = np.log(table / table.sum(axis=1, keepdims=True))
        self.log_prior = np.log(prior / prior.sum())

    def logits(self, toks: list[str]) -> np.ndarray:
        idx = [self.vocab[w] for w in toks if w in self.vocab]
        return self.log_prior + self.log_prob[:, idx].sum(axis=1)


class NaiveBayesModel:
    """Both heads as Naive Bayes, trained in about a second from the vendored data."""

    def __init__(self, examples: Sequence[Example] | None = None) -> None:
        rows = split(examples if examples is not None else load_base())[0]
        tok = [(words(ex.text), ex) for ex in rows]
        self.sentiment = _Head([(t, ex.sentiment) for t, ex in tok if ex.sentiment != IGNORE], len(SENTIMENTS))
        self.topic = _Head([(t, ex.topic) for t, ex in tok if ex.topic != IGNORE], len(TOPICS))
        self.version = "baseline-nb-" + data_hash(rows)[:8]

    def score(self, texts: Sequence[str]) -> HeadScores:
        """Probabilities per head (NB is over-confident: temperature 3 softens it)."""
        toks = [words(t) for t in texts]
        if not toks:
            return HeadScores(np.zeros((0, len(SENTIMENTS))), np.zeros((0, len(TOPICS))))
        s = np.stack([self.sentiment.logits(t) for t in toks])
        t = np.stack([self.topic.logits(t) for t in toks])
        return HeadScores(softmax(s, 3.0), softmax(t, 3.0))
