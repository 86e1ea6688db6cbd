"""Search and documents: full text with filters, then one document with its story's copies."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pandas as pd
import streamlit as st

from dashboard import data, safe, widgets
from dashboard.backends import Backends, PageContext
from finsentry.protocols import SearchQuery, cursor_of
from finsentry.schemas import ScoredDoc

PAGE_SIZE = 50
COPIES_LIMIT = 100


def render(ctx: PageContext) -> None:
    """Filters, a page of results (cursor paging), and the document view (``?doc=<id>`` links to it)."""
    b = ctx.backends
    st.title("Search & documents")
    query = _query(b)
    cursors: list[str | None] = st.session_state.setdefault("se_cursors", [None])
    if st.session_state.get("se_last") != query.model_dump_json():  # new filters start at page one
        cursors[:] = [None]
        st.session_state["se_last"] = query.model_dump_json()
    page = query.model_copy(update={"after": cursors[-1]})
    docs = data.search(b, b.cache_key, page.model_dump_json())
    with st.container(key="search-content"):
        st.metric("Results on this page", len(docs))
        if not docs:
            st.info("No documents match.")
        else:
            st.dataframe(results_frame(docs), hide_index=True, column_config=_columns())
            _pager(cursors, docs)
        chosen = _pick(docs)
        if chosen:
            st.query_params["doc"] = chosen
            show_document(b, chosen)


def _query(b: Backends) -> SearchQuery:
    text = widgets.text_filter("Full text", "se_text")
    cols = st.columns(5)
    with cols[0]:
        topic = widgets.choice("Topic", b.topics, "se_topic")
    with cols[1]:
        sentiment = widgets.choice("Sentiment", b.sentiments, "se_sentiment")
    with cols[2]:
        ticker = widgets.text_filter("Ticker", "se_ticker", upper=True)
    with cols[3]:
        source = widgets.text_filter("Source", "se_source")
    with cols[4]:
        span = widgets.range_select("se_range", default="All time")
    since, _ = data.time_range(b, span)
    return SearchQuery(
        text=text, topic=topic, sentiment=sentiment, ticker=ticker, source=source, since=since, limit=PAGE_SIZE
    )


def _pager(cursors: list[str | None], docs: list[ScoredDoc]) -> None:
    left, right = st.columns([1, 8])
    if len(cursors) > 1 and left.button("Previous", key="se_prev"):
        cursors.pop()
        st.rerun()
    if len(docs) == PAGE_SIZE and right.button("Next page", key="se_next"):
        cursors.append(cursor_of(docs[-1]))
        st.rerun()


def results_frame(docs: list[ScoredDoc]) -> pd.DataFrame:
    """Results with their scores and model version; tables render text as text."""
    rows = [
        {
            "published": d.event_time,
            "title": safe.clip(d.title, 300),
            "sentiment": d.sentiment,
            "p": d.sentiment_score,
            "signed": d.signed_score,
            "topic": d.topic,
            "topic p": d.topic_score,
            "tickers": " ".join(d.tickers[:10]),
            "source": d.source,
            "model": d.model_version,
            "id": d.id,
        }
        for d in docs
    ]
    return pd.DataFrame(rows)


def _columns() -> dict[str, Any]:
    prob = st.column_config.NumberColumn(format="%.2f")
    return {"p": prob, "topic p": prob, "signed": st.column_config.NumberColumn(format="%+.2f")}


def _pick(docs: list[ScoredDoc]) -> str | None:
    ids = [d.id for d in docs]
    wanted = st.query_params.get("doc")
    if wanted and wanted not in ids:
        ids.insert(0, wanted)
    if not ids:
        return None
    titles = {d.id: safe.clip(d.title, 120) for d in docs}
    index = ids.index(wanted) if wanted in ids else 0
    chosen = st.selectbox("Document", ids, index=index, format_func=lambda i: titles.get(i, i), key="se_doc")
    return str(chosen) if chosen else None


def show_document(b: Backends, doc_id: str) -> None:
    """One document: text, every class probability, model version, and its story's other copies."""
    d = data.get_doc(b, b.cache_key, doc_id)
    if d is None:
        st.warning("No document with this id.")
        return
    with st.container(key="document-view", border=True):
        st.markdown(f"#### {safe.md_text(d.title, 2000)}")
        if d.body.strip():
            st.text(d.body[:20_000])
        st.caption(
            f"{safe.md_text(d.source, 100)} · {d.event_time:%Y-%m-%d %H:%M:%S} UTC"
            f" · model {safe.md_text(d.model_version, 80)} · id {d.id}"
        )
        if d.url:
            st.text(d.url[:2000])
        st.markdown(f"[Correct this document](feedback?doc={quote(d.id)})")
        cols = st.columns(2)
        cols[0].dataframe(_scores(d.sentiment_scores, d.sentiment), hide_index=True)
        cols[1].dataframe(_scores(d.topic_scores, d.topic), hide_index=True)
        copies = story_copies(b, d)
        st.markdown(f"**Story {d.story_id}: {len(copies)} cop{'y' if len(copies) == 1 else 'ies'}**")
        st.dataframe(
            results_frame(copies)[["published", "source", "title", "id"]] if copies else pd.DataFrame(), hide_index=True
        )


def _scores(scores: dict[str, float], winner: str) -> pd.DataFrame:
    rows = sorted(scores.items(), key=lambda kv: -kv[1]) or [(winner, 1.0)]
    return pd.DataFrame([{"label": k, "probability": v, "chosen": k == winner} for k, v in rows])


def story_copies(b: Backends, doc: ScoredDoc) -> list[ScoredDoc]:
    """Every stored copy of ``doc``'s story (syndicated copies share the earliest copy's id)."""
    found = data.search(b, b.cache_key, SearchQuery(story_id=doc.story_id, limit=COPIES_LIMIT).model_dump_json())
    return [c for c in found if c.story_id == doc.story_id]  # a store without the filter returns more
