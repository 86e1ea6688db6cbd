"""The dashboard's pages and navigation; ``render`` is called by the entry script with its backends."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from dashboard import auth
from dashboard.backends import Backends, PageContext
from dashboard.pages import alerts, feedback, overview, pipeline, search, tickers

PageFn = Callable[[PageContext], None]

# url path -> (title, icon, renderer). The url paths are stable: webhook payloads link to /alerts?id=.
PAGES: dict[str, tuple[str, str, PageFn]] = {
    "overview": ("Overview", ":material/monitoring:", overview.render),
    "alerts": ("Alerts", ":material/notifications:", alerts.render),
    "search": ("Search & documents", ":material/search:", search.render),
    "tickers": ("Tickers", ":material/show_chart:", tickers.render),
    "feedback": ("Feedback", ":material/rate_review:", feedback.render),
    "pipeline": ("Pipeline & model", ":material/settings_input_component:", pipeline.render),
}


def _page(ctx: PageContext, path: str) -> st.Page:
    title, icon, fn = PAGES[path]

    def show() -> None:
        fn(ctx)

    show.__name__ = f"page_{path}"  # st.Page names a callable page after its function
    return st.Page(show, title=title, icon=icon, url_path=path, default=path == "overview")


def render(backends: Backends, page: str | None = None) -> None:
    """Draw the app: login first when required, then the selected page.

    Args:
        backends: what to read from.
        page: draw only this page (by url path) without navigation, e.g. for tests.

    """
    st.set_page_config(page_title="finsentry", page_icon=":material/monitoring:", layout="wide")
    user = auth.gate(backends.settings, backends.local_user)
    if user is None:
        return
    ctx = PageContext(backends, user)
    if page is not None:
        PAGES[page][2](ctx)
        return
    nav = st.navigation([_page(ctx, path) for path in PAGES])
    st.sidebar.caption(f"Signed in as {user}")
    auth.logout_button()
    nav.run()
