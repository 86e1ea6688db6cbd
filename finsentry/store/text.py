"""The one full-text matching rule both document stores apply to user text.

User text is only ever words: it is split here into letters-and-digits runs, English stop words
and possessive ``'s`` are dropped (as the Elasticsearch ``english`` analyzer drops them), and each
backend then matches every remaining word after Porter stemming (SQLite FTS5 ``porter`` tokenizer,
Elasticsearch ``english`` analyzer). Nothing of the text is ever parsed as a query language.
"""

from __future__ import annotations

import re

# Lucene's English stop set, which the Elasticsearch ``english`` analyzer removes.
_LUCENE_ENGLISH_STOP = (
    "a an and are as at be but by for if in into is it no not of on or such that the their then there"
    " these they this to was will with"
)
STOP_WORDS = frozenset(_LUCENE_ENGLISH_STOP.split(" "))
_WORD = re.compile(r"[^\W_]+(?:['\u2019]s\b)?")
_POSSESSIVE = re.compile(r"['\u2019]s$")


def query_words(text: str | None) -> list[str]:
    """The lower-cased words of ``text`` every matching document must contain (stemmed by the backend).

    An empty list means no text condition at all (blank text, or only punctuation and stop words).
    """
    if not text:
        return []
    words = (_POSSESSIVE.sub("", m.group(0)).lower() for m in _WORD.finditer(text))
    return [w for w in words if w and w not in STOP_WORDS]
