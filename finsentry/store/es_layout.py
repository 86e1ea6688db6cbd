"""Where scored documents live in Elasticsearch: the index template, monthly indices, the read alias.

One index per month of the document's own event time (``{prefix}-docs-YYYY.MM``), all behind the
read alias ``{prefix}-docs``. The indexed fields are flat copies for filters and aggregations;
``doc`` keeps the whole record as JSON text (not indexed) so that a read returns exactly what
was written.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from finsentry.errors import ConfigError
from finsentry.schemas import ScoredDoc
from finsentry.store.common import to_us

_KEYWORDS = ("id", "source", "topic", "sentiment", "tickers", "story_id", "model_version")

DOC_MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        **{name: {"type": "keyword"} for name in _KEYWORDS},
        "title": {
            "type": "text",
            "analyzer": "english",
            "fields": {"raw": {"type": "keyword", "ignore_above": 2048}},
        },
        # title and body together: the one field full-text queries match (every word, stemmed)
        "text": {"type": "text", "analyzer": "english"},
        "event_time": {"type": "date"},
        "event_us": {"type": "long"},  # microseconds: the cursor's unit, exact where dates keep ms
        "published_at": {"type": "date"},
        "fetched_at": {"type": "date"},
        "scored_at": {"type": "date"},
        # double, not float: means over many documents must agree with SQLite's to 1e-9
        "signed_score": {"type": "double"},
        "sentiment_score": {"type": "double"},
        "topic_score": {"type": "double"},
        # the record as its JSON text: kept byte for byte (servers may re-print numbers in objects)
        "doc": {"type": "keyword", "index": False, "doc_values": False},
    },
}


def read_alias(prefix: str) -> str:
    """The alias every read goes through."""
    return f"{prefix}-docs"


def index_pattern(prefix: str) -> str:
    """The pattern of the monthly indices (and of the template)."""
    return f"{prefix}-docs-*"


def month_index(prefix: str, when: datetime) -> str:
    """The index of ``when``'s UTC month."""
    return f"{prefix}-docs-{when.astimezone(UTC):%Y.%m}"


def index_month(prefix: str, index: str) -> datetime | None:
    """The first instant of the month an index holds, or None for an index that is not ours."""
    head = f"{prefix}-docs-"
    try:
        return (
            datetime.strptime(index.removeprefix(head), "%Y.%m").replace(tzinfo=UTC) if index.startswith(head) else None
        )
    except ValueError:
        return None


def template_body(prefix: str) -> dict[str, Any]:
    """The composable index template for the monthly indices, with the read alias."""
    return {
        "index_patterns": [index_pattern(prefix)],
        "template": {
            "settings": {"number_of_shards": 1},
            "mappings": DOC_MAPPING,
            "aliases": {read_alias(prefix): {}},
        },
        "priority": 100,
    }


def to_source(doc: ScoredDoc) -> dict[str, Any]:
    """The indexed form of one document."""
    record = doc.model_dump(mode="json", by_alias=True)
    return {
        **{name: record[name] for name in _KEYWORDS},
        "title": doc.title,
        "text": f"{doc.title}\n{doc.body}",
        "event_time": doc.event_time.isoformat(),
        "event_us": to_us(doc.event_time),
        "published_at": record["published_at"],
        "fetched_at": record["fetched_at"],
        "scored_at": record["scored_at"],
        "signed_score": doc.signed_score,
        "sentiment_score": doc.sentiment_score,
        "topic_score": doc.topic_score,
        "doc": doc.model_dump_json(by_alias=True),
    }


def _flatten(properties: dict[str, Any], base: str = "") -> dict[str, tuple[Any, ...]]:
    out: dict[str, tuple[Any, ...]] = {}
    for name, spec in properties.items():
        path = f"{base}{name}"
        out[path] = (spec.get("type", "object"), spec.get("analyzer"))
        for sub, sub_spec in (spec.get("fields") or {}).items():
            out[f"{path}.{sub}"] = (sub_spec.get("type"), sub_spec.get("analyzer"))
        if spec.get("properties") and spec.get("enabled", True):
            out.update(_flatten(spec["properties"], f"{path}."))
    return out


def check_mapping(index: str, mapping: dict[str, Any]) -> None:
    """Refuse an existing index whose mapping differs from ours in a field we use.

    Raises:
        ConfigError: naming the index, the field, what it is and what it must be.

    """
    want = _flatten(DOC_MAPPING["properties"])
    have = _flatten(mapping.get("properties", {}))
    for field, spec in want.items():
        if field in have and have[field] != spec:
            raise ConfigError(
                f"index {index!r} maps field {field!r} as {_describe(have[field])}, finsentry needs"
                f" {_describe(spec)}; reindex into a new index prefix (finsentry index reindex)"
            )


def _describe(spec: tuple[Any, ...]) -> str:
    kind, analyzer = spec
    return f"{kind} (analyzer {analyzer})" if analyzer else str(kind)
