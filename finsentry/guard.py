"""Parsing outside input so that its only failure is the caller's invalid-input error.

Outside bytes (records on ``news.raw``, crawled feeds, alert rule files, label files) can make a
parser fail in ways nobody wrote an ``except`` for: ``RecursionError`` on deeply nested JSON,
``ValueError`` from Python's limit on integer digits, ``MemoryError``, or a bug of ours. Each
consumer turns those into its own typed error with :func:`guarded`, so a bad input is reported as
bad input (a dead letter, a refused file) instead of stopping a process.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from itertools import accumulate, count
from operator import sub
from typing import TypeVar

from finsentry.errors import FinsentryError, InvalidRecord

T = TypeVar("T")
R = TypeVar("R")

MAX_JSON_DEPTH = 64  # far below Python's recursion limit (1000), far above any record of ours
MAX_NUMBER_CHARS = 100  # a JSON number longer than this is an attack or garbage, never data
_OPENERS = b"[{"
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')  # unrolled: linear, no backtracking blow-up
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = bytes.maketrans(b"[]{}", b"\x02\x00\x02\x00")  # opener 2, closer 0: depth = sum - position


def describe(exc: BaseException) -> str:
    """``Type: message`` for an unexpected exception; a typed error of ours is its message alone."""
    if isinstance(exc, FinsentryError):
        return str(exc)
    message = str(exc)[:500]
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def guarded(parse: Callable[[T], R], value: T, error: type[FinsentryError] = InvalidRecord) -> R:
    """``parse(value)``, whose only failure is ``error``.

    An ``error`` raised by ``parse`` passes unchanged; any other ``Exception`` (``RecursionError``,
    ``MemoryError``, ``ValueError``, a bug) becomes ``error`` with the exception's type and message,
    chained to it. ``KeyboardInterrupt`` and ``SystemExit`` are not input errors and pass through.

    Raises:
        FinsentryError: of type ``error``, with a reason a person can act on.
    """
    try:
        return parse(value)
    except error:
        raise
    except Exception as exc:
        raise error(describe(exc)) from exc


def json_depth(data: bytes) -> int:
    """The deepest nesting of arrays and objects in JSON text, without parsing it.

    Cheap when there are no brackets (one C-level count); otherwise strings are blanked out by
    one regular expression and the depth is a running sum over the brackets left, all in C.
    Brackets of malformed text are counted as they come, which can only overstate the depth.
    """
    openers = data.count(_OPENERS[:1]) + data.count(_OPENERS[1:])
    if not openers:
        return 0
    brackets = _STRING.sub(b'""', data).translate(None, _NOT_BRACKET).translate(_STEP)
    return max(map(sub, accumulate(brackets), count(1)), default=0)


def _bounded_number(kind: Callable[[str], object]) -> Callable[[str], object]:
    def parse(text: str) -> object:
        if len(text) > MAX_NUMBER_CHARS:
            raise InvalidRecord(f"JSON number too long: {len(text)} characters > limit {MAX_NUMBER_CHARS}")
        return kind(text)

    return parse


def loads_json(data: bytes, max_depth: int = MAX_JSON_DEPTH) -> object:
    """UTF-8 JSON text → a value, refusing nesting deeper than ``max_depth`` and over-long numbers.

    Raises:
        InvalidRecord: not UTF-8, malformed, nested too deeply, or a number too long.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidRecord(f"not UTF-8: {exc.reason} at byte {exc.start}") from exc
    depth = json_depth(data) if data.count(b"[") + data.count(b"{") > max_depth else 0
    if depth > max_depth:
        raise InvalidRecord(f"JSON nested too deeply: depth {depth} > limit {max_depth}")
    try:
        return json.loads(text, parse_int=_bounded_number(int), parse_float=_bounded_number(float))
    except json.JSONDecodeError as exc:
        raise InvalidRecord(f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
