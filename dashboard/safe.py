"""Outside text (titles, bodies, sources) is shown as text: never as Markdown, HTML or LaTeX."""

from __future__ import annotations

import re

# Every ASCII punctuation character may be backslash-escaped in CommonMark; escaping all of them
# also defuses Streamlit's own syntax ($ math, :color[...] directives, :emoji: codes).
_PUNCT = re.compile(r"([!-/:-@\[-`{-~])")
_SPACE = re.compile(r"\s+")


def md_text(text: str, limit: int | None = None) -> str:
    """``text`` as Markdown that displays exactly those characters on one line.

    Args:
        text: untrusted text.
        limit: clip to this many characters (an ellipsis marks the cut).

    """
    flat = _SPACE.sub(" ", "".join(ch if ch.isprintable() else " " for ch in text)).strip()
    if limit is not None and len(flat) > limit:
        flat = flat[: max(limit - 1, 0)] + "…"
    return _PUNCT.sub(r"\\\1", flat)


def clip(text: str, limit: int) -> str:
    """Plain text on one line, at most ``limit`` characters (for tables, which render text as text)."""
    flat = _SPACE.sub(" ", text).strip()
    return flat if len(flat) <= limit else flat[: max(limit - 1, 0)] + "…"
