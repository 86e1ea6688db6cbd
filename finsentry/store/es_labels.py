"""Analysts' corrections in Elasticsearch: one index (``<prefix>-labels``) with its own template."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from finsentry.schemas import Label

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

PAGE = 1000

LABELS_TEMPLATE: dict[str, Any] = {
    "settings": {"number_of_shards": 1},
    "mappings": {
        "dynamic": False,  # the record is kept whole in _source; only these fields are searchable
        "properties": {
            "id": {"type": "keyword"},
            "doc_id": {"type": "keyword"},
            "user": {"type": "keyword"},
            "source": {"type": "keyword"},
            "sentiment": {"type": "keyword"},
            "topic": {"type": "keyword"},
            "model_version": {"type": "keyword"},
            "created_at": {"type": "date"},
        },
    },
}


class ElasticsearchLabelStore:
    """LabelStore on Elasticsearch; a label's id is its document id, so a retried add replaces it.

    Args:
        client: the shared client (``finsentry.store.es.make_es_client``).
        prefix: the installation's index prefix.
        page_size: labels per search request while reading them all.

    """

    def __init__(self, client: Elasticsearch, prefix: str, page_size: int = PAGE) -> None:
        self._es = client
        self.index = f"{prefix}-labels"
        self._page = page_size
        self._ensure()

    def _ensure(self) -> None:
        self._es.indices.put_index_template(
            name=self.index, index_patterns=[self.index], template=LABELS_TEMPLATE, priority=200
        )
        if not self._es.indices.exists(index=self.index):
            self._es.indices.create(index=self.index)

    def add_label(self, label: Label) -> None:
        """Store one label; searchable and acknowledged when this returns."""
        body = label.model_dump(mode="json", by_alias=True)
        self._es.index(index=self.index, id=label.id, document=body, refresh="wait_for")

    def labels(self, since: datetime | None = None) -> list[Label]:
        """Labels created at or after ``since``, oldest first (ties by id), every page of them."""
        query: dict[str, Any] = {"range": {"created_at": {"gte": since.isoformat()}}} if since else {"match_all": {}}
        out: list[Label] = []
        after: list[Any] | None = None
        while True:
            extra: dict[str, Any] = {"search_after": after} if after else {}
            hits = self._es.search(
                index=self.index, query=query, sort=[{"created_at": "asc"}, {"id": "asc"}], size=self._page, **extra
            )["hits"]["hits"]
            out.extend(Label.model_validate(h["_source"]) for h in hits)
            if len(hits) < self._page:
                return out
            after = hits[-1]["sort"]
