"""Feedback: an analyst corrects a document's sentiment or topic; stored durably for retraining."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import data, safe, widgets
from dashboard.backends import Backends, PageContext
from finsentry.ids import content_id
from finsentry.protocols import SearchQuery
from finsentry.schemas import Label, ScoredDoc

CANDIDATES = 50
RECENT = 20


def render(ctx: PageContext) -> None:
    """Find a document (``?doc=<id>`` preselects it), correct it, and see the latest corrections."""
    b = ctx.backends
    st.title("Feedback")
    if b.labels is None:
        st.info("No label store is configured for this installation: corrections cannot be stored.")
        return
    with st.container(key="feedback-content"):
        doc = _find(b)
        if doc is not None:
            _form(b, ctx.user, doc)
        _recent(b)


def _find(b: Backends) -> ScoredDoc | None:
    text = widgets.text_filter("Find a document (full text)", "fb_text")
    wanted = st.query_params.get("doc")
    docs = data.search(b, b.cache_key, SearchQuery(text=text, limit=CANDIDATES).model_dump_json())
    by_id = {d.id: d for d in docs}
    if wanted and wanted not in by_id:
        extra = data.get_doc(b, b.cache_key, wanted)
        if extra is not None:
            by_id = {extra.id: extra, **by_id}
    if not by_id:
        st.info("No documents to correct yet.")
        return None
    ids = list(by_id)
    index = ids.index(wanted) if wanted in ids else 0
    labels = {i: f"{d.sentiment} · {d.topic} · {safe.clip(d.title, 100)}" for i, d in by_id.items()}
    chosen = st.selectbox("Document", ids, index=index, format_func=lambda i: labels[i], key="fb_doc")
    return by_id.get(str(chosen))


def _form(b: Backends, user: str, doc: ScoredDoc) -> None:
    st.markdown(f"**{safe.md_text(doc.text, 2000)}**")
    st.caption(
        f"model {safe.md_text(doc.model_version, 80)} · now {doc.sentiment} / {safe.md_text(doc.topic, 80)}"
        f" · id {doc.id}"
    )
    sentiments = list(b.sentiments)
    topics = list(b.topics) or [doc.topic]
    with st.form(f"fb_form_{doc.id}"):
        sentiment = st.selectbox("Sentiment", sentiments, index=_index(sentiments, doc.sentiment), key=f"fb_s_{doc.id}")
        topic = st.selectbox("Topic", topics, index=_index(topics, doc.topic), key=f"fb_t_{doc.id}")
        submitted = st.form_submit_button("Save correction")
    if submitted:
        label = correction(doc, str(sentiment), str(topic), user, b)
        b.labels.add_label(label)  # type: ignore[union-attr]  # checked by render
        st.success(f"Saved: {label.old_sentiment} → {label.sentiment}, {label.old_topic} → {label.topic} (by {user}).")


def _index(options: list[str], value: str) -> int:
    return options.index(value) if value in options else 0


def correction(doc: ScoredDoc, sentiment: str, topic: str, user: str, b: Backends) -> Label:
    """A label for both heads with what the model said before; ``text`` is exactly what the model read."""
    now = b.clock()
    return Label(
        id=content_id("dashboard", doc.id, user, now.isoformat()),
        doc_id=doc.id,
        text=doc.text,
        sentiment=sentiment,
        topic=topic,
        old_sentiment=doc.sentiment,
        old_topic=doc.topic,
        model_version=doc.model_version,
        user=user,
        source="dashboard",
        created_at=now,
    )


def _recent(b: Backends) -> None:
    recent = data.labels(b)[-RECENT:][::-1]
    st.markdown(f"**Latest corrections ({len(recent)})**")
    if recent:
        rows = [
            {
                "when": lab.created_at,
                "who": lab.user,
                "sentiment": f"{lab.old_sentiment} → {lab.sentiment}",
                "topic": f"{lab.old_topic} → {lab.topic}",
                "model": lab.model_version,
                "text": safe.clip(lab.text, 200),
            }
            for lab in recent
        ]
        st.dataframe(pd.DataFrame(rows), hide_index=True)
