from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from finsentry.errors import InvalidRecord, LabelFileError
from finsentry.guard import MAX_JSON_DEPTH, describe, guarded, json_depth, loads_json


def _depth(value: object) -> int:
    """Reference nesting depth of a parsed JSON value."""
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    return 0


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(alphabet='[]{}"\\ab,:é'),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(alphabet='[]{}"\\k', max_size=4), inner),
    max_leaves=30,
)


@settings(deadline=None)
@given(json_values)
def test_depth_scan_agrees_with_the_parsed_value(value: object) -> None:
    data = json.dumps(value, ensure_ascii=False).encode()
    assert json_depth(data) == _depth(value)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"[" * 200_000 + b"]" * 200_000, "nested too deeply: depth 200000"),
        (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "nested too deeply: depth 100000"),
        (b"1" * 1_048_576, "JSON number too long: 1048576 characters"),
        (b'{"n": -' + b"9" * 5000 + b"}", "JSON number too long"),
        (b'{"n": 1.' + b"5" * 5000 + b"}", "JSON number too long"),
        (b"\xff{}", "not UTF-8"),
        (b"{", "malformed JSON"),
    ],
)
def test_hostile_json_is_an_invalid_record(data: bytes, reason: str) -> None:
    with pytest.raises(InvalidRecord, match=reason):
        loads_json(data)


def test_nesting_up_to_the_limit_and_brackets_inside_strings_parse() -> None:
    assert loads_json(b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH) is not None
    text = "[" * 100_000
    assert loads_json(json.dumps({"title": text, "n": 12.5, "tickers": ["A"]}).encode())["title"] == text  # type: ignore[index]


def test_guarded_turns_any_exception_into_the_callers_error() -> None:
    def explode(value: str) -> int:
        raise RecursionError("maximum recursion depth exceeded")

    with pytest.raises(InvalidRecord, match=r"^RecursionError: maximum recursion depth exceeded$") as info:
        guarded(explode, "x")
    assert isinstance(info.value.__cause__, RecursionError)
    with pytest.raises(LabelFileError, match=r"^MemoryError$"):
        guarded(lambda _: (_ for _ in ()).throw(MemoryError()), b"", LabelFileError)
    assert guarded(int, "42") == 42


def test_guarded_keeps_the_callers_own_error_and_lets_interrupts_through() -> None:
    def refuse(value: str) -> int:
        raise InvalidRecord("empty record")

    with pytest.raises(InvalidRecord, match=r"^empty record$"):
        guarded(refuse, "")
    with pytest.raises(LabelFileError, match=r"^empty record$"):  # another typed error: its message, no type
        guarded(refuse, "", LabelFileError)

    def interrupted(value: str) -> int:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        guarded(interrupted, "")


def test_describe_names_the_type_of_unexpected_errors_only() -> None:
    assert describe(ValueError("Exceeds the limit (4300 digits)")) == "ValueError: Exceeds the limit (4300 digits)"
    assert describe(InvalidRecord("empty text")) == "empty text"
    assert describe(MemoryError()) == "MemoryError"
    assert len(describe(RuntimeError("x" * 10_000))) < 600
