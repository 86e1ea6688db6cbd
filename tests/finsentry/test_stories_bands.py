"""MinHash band keys: the vectorised computation equals the definition, word by word."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from finsentry.stories import _SALTS, BANDS, ROWS, band_int, band_ints, band_keys, tokens

WORDS = st.lists(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=12), max_size=40)


def reference(words: list[str]) -> list[str]:
    """MinHash as written down: per salt, the least (word hash XOR salt); 20 bands of 3 rows, hashed."""
    if len(words) < 2:
        return []
    hashes = [int.from_bytes(hashlib.blake2b(w.encode(), digest_size=8).digest(), "big") for w in set(words)]
    mins = [min(h ^ salt for h in hashes) for salt in _SALTS]
    rows = [mins[b * ROWS : (b + 1) * ROWS] for b in range(BANDS)]
    return [f"{b}:{hashlib.blake2b(repr(r).encode(), digest_size=8).hexdigest()}" for b, r in enumerate(rows)]


@given(WORDS)
def test_band_keys_equal_the_definition(words: list[str]) -> None:
    assert band_keys(words) == reference(words)


def test_keys_stay_what_stored_indexes_hold() -> None:
    # a story index keeps these keys on disk: a change here would split every stored story
    keys = band_keys(tokens("Acme shares plunge after profit warning"))
    assert len(keys) == BANDS and keys == reference(list(tokens("Acme shares plunge after profit warning")))
    assert keys[0].startswith("0:") and len(keys[0].split(":")[1]) == 16


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet="abcdefgh0123", min_size=1, max_size=6), max_size=12))
def test_integer_band_keys_are_the_text_keys_converted(words: list[str]) -> None:
    assert band_ints(words) == [band_int(k) for k in band_keys(words)]
    assert all(-(2**63) <= k < 2**63 for k in band_ints(words))  # fits SQLite's INTEGER
