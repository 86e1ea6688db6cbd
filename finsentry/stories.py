"""Near-duplicate signatures of headlines: what every story index (SQLite, Elasticsearch) compares.

A headline is reduced to its content words (wire prefixes such as ``UPDATE 1-`` and suffixes
such as ``- Reuters`` removed, lower-cased, stop words dropped, light stemming). Candidates are
found by MinHash band keys (20 bands of 3 rows: two headlines sharing half their words collide in
at least one band with probability ~0.93, sharing 60% ~0.99) and confirmed by :func:`same_story`, which also refuses
pairs whose numbers or direction words disagree: "Apple shares rise 3%" and "Apple shares fall 3%"
share a ticker and most words, yet are different stories.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

BANDS = 20
ROWS = 3
MATCH_JACCARD = 0.5
WINDOW_S = 3 * 86_400.0
_COMMON_WORDS = (
    Path(__file__).resolve().parent / "data" / "common_words.txt"
)  # copies of one story appear within days, not weeks

_PREFIX = re.compile(
    r"^\s*(?:(?:UPDATE|REFILE|RPT|CORRECTED|BRIEF|EXCLUSIVE|WRAPUP|FOCUS|INSTANT VIEW|BUZZ|"
    r"BREAKINGVIEWS|TEXT|UPDATED|CORRECTION|ANALYSIS|DIARY|PRESS DIGEST|FACTBOX)(?:\s*\d+)?\s*[-:–—]\s*)+",
    re.IGNORECASE,
)
_WIRES = (
    "reuters|bloomberg|ap|associated press|afp|dow jones|marketwatch|cnbc|wsj|ft|financial times|"
    "yahoo finance|benzinga|seeking alpha|business wire|businesswire|pr newswire|globenewswire|"
    "the motley fool|motley fool|barron's|barrons|investing\\.com|fxstreet|the guardian|bbc news|nasdaq"
)
_SUFFIX = re.compile(rf"\s*(?:[-–—|]|\bvia\b)\s*(?:{_WIRES})\s*$", re.IGNORECASE)
_URL = re.compile(r"https?://\S+")
_TOKEN = re.compile(r"[a-z0-9]+(?:[.,][0-9]+)*")


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


_STOP = _wordset(
    "a an the of to in on for at by with from and or as is are was were be been its it this that "
    "after over amid into than about says said say inc corp co ltd plc llc sa ag nv se group holdings "
    "company report reports reported update s will"
)
_UP = _wordset(
    "rise rises rose rising up gain gains gained jump jumps jumped surge surges surged soar soars soared "
    "climb climbs climbed rally rallies rallied beat beats tops top raise raises raised higher high "
    "record boost boosts boosted increase increases increased upgrade upgrades upgraded buy buys buying bought "
    "open opens opened hire hires hired approve approves approved ok oks win wins won add adds added"
)
_DOWN = _wordset(
    "fall falls fell falling down drop drops dropped slump slumps slumped plunge plunges plunged sink "
    "sinks sank slide slides slid decline declines declined miss misses missed cut cuts lower low loss "
    "losses tumble tumbles tumbled downgrade downgrades downgraded decrease decreases decreased lost lose "
    "loses sell sells selling sold dump dumps dumping close closes closed shut shuts reject rejects rejected "
    "lay lays fire fires fired"
)
# one 64-bit salt per MinHash function: h XOR salt permutes the word hashes (cheap, and stable
# across processes and versions because the salts derive from fixed strings)
_SALTS = [
    int.from_bytes(hashlib.blake2b(f"minhash{i}".encode(), digest_size=8).digest(), "big") for i in range(BANDS * ROWS)
]
_SALTS_NP = np.array(_SALTS, dtype=np.uint64)


def core_title(title: str) -> str:
    """The headline without wire prefixes, wire-name suffixes and links."""
    text = unicodedata.normalize("NFKC", title)
    text = _URL.sub(" ", text)
    text = _PREFIX.sub("", text)
    previous = None
    while previous != text:  # "… - Reuters | Yahoo Finance"
        previous, text = text, _SUFFIX.sub("", text)
    return text.strip()


def _stem(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def tokens(title: str) -> tuple[str, ...]:
    """The content words of a headline in order, each once (lower-cased, stop words dropped, plural ``s`` removed)."""
    words = _TOKEN.findall(core_title(title).lower().replace("%", " pct"))
    return tuple(dict.fromkeys(_stem(w) for w in words if w not in _STOP))


@lru_cache(maxsize=1)
def everyday_words() -> frozenset[str]:
    """Lower-case words that financial headlines use as ordinary words (``data/common_words.txt``)."""
    lines = _COMMON_WORDS.read_text(encoding="utf-8").splitlines()
    return frozenset(w for w in lines if w and not w.startswith("#"))


@lru_cache(maxsize=1)
def _common() -> frozenset[str]:
    return frozenset(_stem(w) for w in everyday_words()) - _ALWAYS_NAMES


# institutions that headlines also spell in lower case ("fed up"), yet in news name one body
_ALWAYS_NAMES = frozenset({"fed", "ecb", "boe", "boj", "imf", "opec", "sec", "fda", "bancorp", "bank"})
_UP_STEMS = frozenset(_stem(w) for w in _UP)
_DOWN_STEMS = frozenset(_stem(w) for w in _DOWN)


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    """|a ∩ b| / |a ∪ b| (0 for two empty sets)."""
    inter = len(a & b)
    union = len(a) + len(b) - inter
    return inter / union if union else 0.0


def _acronym_of(word: str, ordered: Sequence[str]) -> set[str]:
    """The run of words in ``ordered`` whose initials spell ``word`` ("nyt" → new york time), or empty."""
    n = len(word)
    if not 2 <= n <= 5:
        return set()
    for i in range(len(ordered) - n + 1):
        if "".join(w[0] for w in ordered[i : i + n]) == word:
            return set(ordered[i : i + n])
    return set()


def _names_conflict(a: Sequence[str], b: Sequence[str], only_a: set[str], only_b: set[str]) -> bool:
    """Each headline names something (a word outside everyday vocabulary) the other does not."""
    common = _common()
    names_a = {w for w in only_a if w not in common and not w[0].isdigit()}
    names_b = {w for w in only_b if w not in common and not w[0].isdigit()}
    for word in list(names_a):
        run = _acronym_of(word, b)
        if run:
            names_a.discard(word)
            names_b -= run
    for word in list(names_b):
        run = _acronym_of(word, a)
        if run:
            names_b.discard(word)
            names_a -= run
    return bool(names_a) and bool(names_b)


def _directions(words: Sequence[str]) -> list[bool]:
    return [w in _UP_STEMS for w in words if w in _UP_STEMS or w in _DOWN_STEMS]


def same_story(a: Sequence[str], b: Sequence[str]) -> bool:
    """Whether two headlines' words (:func:`tokens`) say the same thing.

    Word overlap at least ``MATCH_JACCARD``; the same numbers when both state numbers; no
    direction word (rise, fall, cut, buy, ...) on one side only and the same order of directions
    ("misses EPS, beats revenue" is not "beats EPS, misses revenue"); and not each naming
    something the other does not ("Boeing wins order" is not "Airbus wins order").
    """
    sa, sb = frozenset(a), frozenset(b)
    if len(sa) < 2 or len(sb) < 2 or jaccard(sa, sb) < MATCH_JACCARD:
        return False
    na = {w for w in sa if w[0].isdigit()}
    nb = {w for w in sb if w[0].isdigit()}
    if na and nb and na != nb:
        return False
    only_a, only_b = set(sa - sb), set(sb - sa)
    if (only_a | only_b) & (_UP_STEMS | _DOWN_STEMS) or _directions(a) != _directions(b):
        return False
    return not _names_conflict(a, b, only_a, only_b)


@lru_cache(maxsize=1 << 16)  # headlines share most of their words
def _word_hash(word: str) -> int:
    return int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "big")


def _band_digests(words: Sequence[str]) -> list[int]:
    """One 64-bit digest per MinHash band; empty when the headline has too few words."""
    if len(words) < 2:
        return []
    hashes = np.fromiter((_word_hash(w) for w in set(words)), dtype=np.uint64)
    # every salt XOR every word hash at once; .tolist() gives the same Python ints as a loop would
    mins = np.bitwise_xor.outer(_SALTS_NP, hashes).min(axis=1).tolist()
    return [
        int.from_bytes(hashlib.blake2b(repr(mins[b * ROWS : (b + 1) * ROWS]).encode(), digest_size=8).digest(), "big")
        for b in range(BANDS)
    ]


def band_keys(words: Sequence[str]) -> list[str]:
    """MinHash LSH band keys (``"<band>:<hex>"``); empty when the headline has too few words."""
    return [f"{band}:{digest:016x}" for band, digest in enumerate(_band_digests(words))]


def band_ints(words: Sequence[str]) -> list[int]:
    """The band keys of :func:`band_keys` as :func:`band_int` gives them, without the text form."""
    return [_to_int(band, digest) for band, digest in enumerate(_band_digests(words))]


def band_int(key: str) -> int:
    """A band key (``"<band>:<hex>"``) as a signed 64-bit integer: 5 bits of band number, 59 of digest."""
    band, _, digest = key.partition(":")
    return _to_int(int(band), int(digest, 16))


def _to_int(band: int, digest: int) -> int:
    return ((band << 59) | (digest >> 5)) - (1 << 63)


@dataclass(frozen=True)
class Signature:
    """What a story index stores per document."""

    words: tuple[str, ...]
    bands: list[str]

    @classmethod
    def of(cls, title: str) -> Signature:
        """The signature of one headline."""
        words = tokens(title)
        return cls(words, band_keys(words))
