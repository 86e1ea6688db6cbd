"""Run one page of the real app in Streamlit's test harness."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from dashboard.backends import Backends


def _script(backends: object, page: object) -> None:
    # Streamlit runs this function's source as a script, where only builtins name the annotations.
    from dashboard.app import render

    render(backends, page=page)  # type: ignore[arg-type]


def run_page(backends: Backends, page: str | None, query: dict[str, str] | None = None, timeout: float = 60) -> AppTest:
    """Draw ``page`` (None: the navigation's default page) once; fail on any exception shown."""
    at = AppTest.from_function(_script, kwargs={"backends": backends, "page": page}, default_timeout=timeout)
    at.query_params.update(query or {})
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(at: AppTest) -> str:
    """Everything drawn as markdown, captions, headers, info boxes, in one string."""
    parts: list[str] = []
    for kind in ("markdown", "caption", "title", "subheader", "header", "info", "warning", "success", "error", "text"):
        parts.extend(str(e.value) for e in getattr(at, kind))
    return "\n".join(parts)


def metrics(at: AppTest) -> dict[str, str]:
    """Metric label → shown value."""
    return {m.label: m.value for m in at.metric}
