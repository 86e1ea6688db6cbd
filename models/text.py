"""Text normalisation shared by training and inference, so both see the same input."""

from __future__ import annotations

import html
import re

_URL = re.compile(r"https?://\S+")
_SPACE = re.compile(r"\s+")


def normalize(text: str) -> str:
    """Return the model's view of a headline.

    HTML entities are decoded (the data holds ``&amp;``) and URLs are collapsed to one
    token: t.co short links carry no signal and would only burn sequence length.
    """
    text = html.unescape(text)
    text = _URL.sub(" http ", text)
    return _SPACE.sub(" ", text).strip()
