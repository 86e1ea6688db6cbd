"""Length-grouped batches: every row once per epoch, less padding, seeded order."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st
from transformers import AutoTokenizer

from models.bases import DEFAULT_BASE, base_dir
from models.dataset import Example, load_base
from models.train import length_grouped_batches, shuffled_batches, token_lengths


def _rows(lengths: list[int]) -> list[Example]:
    return [Example(f"row {i} " + "x " * n, sentiment=i % 3) for i, n in enumerate(lengths)]


def _padded(batches: list[list[Example]], length: dict[str, int]) -> int:
    return sum(max(length[r.text] for r in b) * len(b) for b in batches)


@given(
    lengths=st.lists(st.integers(min_value=1, max_value=64), min_size=1, max_size=400),
    size=st.integers(min_value=1, max_value=40),
    seed=st.integers(min_value=0, max_value=2**16),
)
def test_each_row_once_in_batches_of_the_right_size(lengths: list[int], size: int, seed: int) -> None:
    rows = _rows(lengths)
    batches = length_grouped_batches(rows, lengths, size, random.Random(seed))
    seen = sorted(r.text for b in batches for r in b)
    assert seen == sorted(r.text for r in rows)
    assert all(1 <= len(b) <= size for b in batches)
    assert sum(len(b) < size for b in batches) <= 1  # only the very last window can end short
    assert len(batches) == -(-len(rows) // size)  # the schedule's step count stays right


@given(
    lengths=st.lists(st.integers(min_value=1, max_value=64), min_size=8, max_size=320).map(
        lambda xs: xs[: len(xs) // 8 * 8]
    ),
    seed=st.integers(min_value=0, max_value=2**16),
)
def test_grouping_never_pads_more_than_random_batches(lengths: list[int], seed: int) -> None:
    rows = _rows(lengths)
    length = {r.text: n for r, n in zip(rows, lengths, strict=True)}
    grouped = length_grouped_batches(rows, lengths, 8, random.Random(seed))
    # one window of full batches: cutting the sorted rows is the partition that pads least
    assert _padded(grouped, length) <= _padded(shuffled_batches(rows, 8, True, random.Random(seed)), length)


def test_same_seed_same_batches_other_seed_other_order() -> None:
    lengths = [n % 50 + 1 for n in range(5000)]
    rows = _rows(lengths)
    a = length_grouped_batches(rows, lengths, 32, random.Random(7))
    b = length_grouped_batches(rows, lengths, 32, random.Random(7))
    c = length_grouped_batches(rows, lengths, 32, random.Random(8))
    assert [[r.text for r in x] for x in a] == [[r.text for r in x] for x in b]
    assert [x[0].text for x in a] != [x[0].text for x in c]


def test_real_headlines_pad_about_half_as_much(tmp_path: object) -> None:
    tok = AutoTokenizer.from_pretrained(str(base_dir(DEFAULT_BASE, tmp_path)))  # type: ignore[arg-type]
    rows = load_base()[::10]
    lengths = token_lengths(tok, rows, 64)
    assert max(lengths) <= 64 and min(lengths) >= 3  # [CLS] ... [SEP], truncated at 64
    length = {id(r): n for r, n in zip(rows, lengths, strict=True)}

    def padded(batches: list[list[Example]]) -> int:
        return sum(max(length[id(r)] for r in b) * len(b) for b in batches)

    grouped = padded(length_grouped_batches(rows, lengths, 32, random.Random(13)))
    plain = padded(shuffled_batches(rows, 32, True, random.Random(13)))
    assert grouped < 0.75 * plain
    assert grouped < 1.15 * sum(lengths)  # close to no padding at all
