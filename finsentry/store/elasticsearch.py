"""Elasticsearch document store: monthly indices behind a read alias, the same answers as SQLite.

Reads go through the alias; aggregations are plain ``date_histogram``/``terms`` with ``filter``,
``avg`` and ``cardinality`` sub-aggregations, which every Elasticsearch API here supports
(noida-db lacks percentiles, composite, bucket_selector and bucket_sort: ranking is done in Python).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from finsentry.errors import ServiceUnavailable
from finsentry.protocols import BucketCount, Dimension, KeyStat, Rejected, SearchQuery, TrendBucket, TrendQuery
from finsentry.schemas import ScoredDoc
from finsentry.store import es_layout as layout
from finsentry.store.common import months_before, parse_cursor, rank_keys, to_us
from finsentry.store.es_bulk import BulkItem, BulkWriter
from finsentry.store.text import query_words

log = logging.getLogger(__name__)

_FIELD: dict[str, str] = {"topic": "topic", "ticker": "tickers", "source": "source", "sentiment": "sentiment"}
_MAX_KEYS = 10_000
# Below this many distinct values Elasticsearch's cardinality counts every hash exactly (linear counting).
_EXACT_CARDINALITY = 40_000


def redact(url: str) -> str:
    """The URL without credentials, for messages and logs."""
    parts = urlsplit(url)
    hosts = ",".join(h.rpartition("@")[2] for h in parts.netloc.split(","))
    return f"{parts.scheme}://{hosts}"


def _stats_aggs() -> dict[str, Any]:
    # negatives from a terms split, not a filter aggregation: noida-db runs a filter per bucket slowly
    return {
        "stories": {"cardinality": {"field": "story_id", "precision_threshold": _EXACT_CARDINALITY}},
        "sentiments": {"terms": {"field": "sentiment", "size": 100}},
        "mean": {"avg": {"field": "signed_score"}},
    }


def _negative(agg: dict[str, Any]) -> int:
    return sum(int(b["doc_count"]) for b in agg["sentiments"]["buckets"] if b["key"] == "negative")


def _keyed(dimension: Dimension, inner: dict[str, Any]) -> dict[str, Any]:
    """``inner`` per key of ``dimension``; for ``all`` the enclosing bucket is the one key."""
    if dimension == "all":
        return inner
    return {"keys": {"terms": {"field": _FIELD[dimension], "size": _MAX_KEYS}, "aggs": inner}}


def _key_buckets(dimension: Dimension, agg: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    if dimension == "all":
        return [("all", agg)] if agg["doc_count"] else []
    return [(str(b["key"]), b) for b in agg["keys"]["buckets"]]


class ElasticsearchStore:
    """Scored documents in Elasticsearch (or an API-compatible server).

    Args:
        client: an ``elasticsearch.Elasticsearch`` (``finsentry.store.es.make_es_client``).
        prefix: index name prefix (``{prefix}-docs-YYYY.MM``, alias ``{prefix}-docs``).
        url: the cluster's URL, named (without credentials) in errors.
        retry_seconds: how long a cluster that refuses for load or is unreachable is retried.
        refresh: make every write visible to search before ``upsert`` returns (tests, tools).
        max_doc_bytes: documents larger than this are rejected without being sent.
        clock: now, for the month ``ensure`` creates.

    """

    def __init__(
        self,
        client: Any,
        prefix: str,
        url: str = "",
        retry_seconds: float = 60.0,
        refresh: bool = False,
        max_doc_bytes: int = 10 * 1024 * 1024,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._es = client
        self.prefix = prefix
        self.where = redact(url) if url else "the configured URL"
        self.alias = layout.read_alias(prefix)
        self.retry_seconds = retry_seconds
        self.max_doc_bytes = max_doc_bytes
        self.clock = clock
        self.writer = BulkWriter(client, self.where, retry_seconds=retry_seconds, refresh=refresh)

    # --- administration -------------------------------------------------------------------------

    def _call(self, what: str, fn: Callable[[], Any]) -> Any:
        """Run one request, retrying a lost connection or a 429/503 until ``retry_seconds``."""
        from elasticsearch import ApiError, TransportError

        deadline, delay = time.monotonic() + self.retry_seconds, 0.2
        while True:
            try:
                return fn()
            except (ApiError, TransportError) as exc:
                retryable = isinstance(exc, TransportError) or exc.meta.status in (429, 502, 503, 504)
                if not retryable:
                    raise
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ServiceUnavailable(
                        f"Elasticsearch at {self.where} unavailable ({what}) for {self.retry_seconds:.0f}s:"
                        f" {type(exc).__name__}"
                    ) from exc
                log.warning("Elasticsearch at %s: %s failed (%s); retrying", self.where, what, type(exc).__name__)
                time.sleep(min(delay, left))
                delay = min(delay * 2, 5.0)

    def ensure(self) -> None:
        """Create the template and this month's index when missing; refuse incompatible indices.

        Raises:
            ConfigError: an existing index maps one of our fields differently (named).
            ServiceUnavailable: the cluster did not answer within ``retry_seconds``.

        """
        existing = self._call(
            "read mappings", lambda: self._es.indices.get_mapping(index=layout.index_pattern(self.prefix))
        )
        for index, body in existing.body.items():
            layout.check_mapping(index, body.get("mappings", {}))
        body = layout.template_body(self.prefix)
        self._call("put template", lambda: self._es.indices.put_index_template(name=self.alias, **body))
        self._index_for(self.clock())

    def _index_for(self, when: datetime) -> str:
        index = layout.month_index(self.prefix, when)
        if not self._call("check index", lambda: bool(self._es.indices.exists(index=index))):
            from elasticsearch import BadRequestError

            try:
                self._call("create index", lambda: self._es.indices.create(index=index))
            except BadRequestError as exc:  # created meanwhile by another worker
                if exc.error != "resource_already_exists_exception":
                    raise
        return index

    def prune(self, retention_months: int, now: datetime | None = None) -> int:
        """Delete whole monthly indices before the retention; return how many documents they held."""
        if retention_months <= 0:
            return 0
        cutoff = months_before(now or self.clock(), retention_months)
        indices = self._call("list indices", self._indices)
        dropped = 0
        for index in sorted(indices):
            month = layout.index_month(self.prefix, index)
            if month is not None and month < cutoff:
                dropped += int(self._call("count", partial(self._es.count, index=index)).body["count"])
                self._call("delete index", partial(self._es.indices.delete, index=index))
                log.info("pruned %s", index)
        return dropped

    def _indices(self) -> list[str]:
        return sorted(self._es.indices.get_mapping(index=layout.index_pattern(self.prefix)).body)

    def drop_all(self) -> None:
        """Delete every index and the template of this prefix (tests, tools)."""
        # by name: clusters refuse wildcard deletes (action.destructive_requires_name)
        for index in self._indices():
            self._es.indices.delete(index=index)
        self._es.indices.delete_index_template(name=self.alias)

    def close(self) -> None:
        """Close the client's connections."""
        self._es.close()

    # --- writes ---------------------------------------------------------------------------------

    def upsert(self, docs: Sequence[ScoredDoc]) -> list[Rejected]:
        """Index by id (an overwrite stays in the index of the first write); return what was refused."""
        first = self._existing_indices(docs)
        items, rejected = [], []
        for d in docs:
            body = json.dumps(layout.to_source(d)).encode()
            if len(body) > self.max_doc_bytes:
                rejected.append(Rejected(doc_id=d.id, reason=f"too large: {len(body)} bytes > {self.max_doc_bytes}"))
                continue
            # the first write's index, also for an id that appears twice in this batch
            index = first.setdefault(d.id, layout.month_index(self.prefix, d.event_time))
            items.append(BulkItem(index, d.id, body))
        return rejected + self.writer.write(items)

    def _existing_indices(self, docs: Sequence[ScoredDoc]) -> dict[str, str]:
        """Ids already stored in another month's index than their own (a multi-get, no search)."""
        own: dict[str, str] = {}
        for d in docs:
            own.setdefault(d.id, layout.month_index(self.prefix, d.event_time))
        indices = self._call("list indices", self._indices)
        lookups = [{"_index": index, "_id": i} for i, mine in own.items() for index in indices if index != mine]
        if not lookups:
            return {}
        resp = self._call("find existing", lambda: self._es.mget(docs=lookups, source=False))
        return {d["_id"]: d["_index"] for d in resp.body["docs"] if d.get("found")}

    # --- reads ----------------------------------------------------------------------------------

    def _search(self, **kwargs: Any) -> dict[str, Any]:
        return dict(self._call("search", lambda: self._es.search(index=self.alias, **kwargs)).body)

    def get(self, doc_id: str) -> ScoredDoc | None:
        """One document by id, or None."""
        hits = self._search(query={"ids": {"values": [doc_id]}}, size=1)["hits"]["hits"]
        return ScoredDoc.model_validate_json(hits[0]["_source"]["doc"]) if hits else None

    def search(self, query: SearchQuery) -> list[ScoredDoc]:
        """Filtered documents, newest first by (event time, id), from the cursor ``query.after``."""
        kwargs: dict[str, Any] = {
            "query": {"bool": {"filter": self._filters(query), "must": self._text(query.text)}},
            "sort": [{"event_us": "desc"}, {"id": "desc"}],
            "size": query.limit,
            "track_total_hits": False,
        }
        if query.after:
            us, last_id = parse_cursor(query.after)
            kwargs["search_after"] = [us, last_id]
        hits = self._search(**kwargs)["hits"]["hits"]
        return [ScoredDoc.model_validate_json(h["_source"]["doc"]) for h in hits]

    @staticmethod
    def _text(text: str | None) -> list[dict[str, Any]]:
        words = query_words(text)
        # match, never query_string: the words are analysed, never parsed as a query language
        return [{"match": {"text": {"query": " ".join(words), "operator": "and"}}}] if words else []

    @staticmethod
    def _filters(q: SearchQuery | TrendQuery) -> list[dict[str, Any]]:
        terms = [("topic", q.topic), ("sentiment", q.sentiment), ("source", q.source)]
        if isinstance(q, SearchQuery):
            terms += [("story_id", q.story_id), ("model_version", q.model_version)]
        out: list[dict[str, Any]] = [{"term": {f: v}} for f, v in terms if v is not None]
        if q.ticker:
            out.append({"term": {"tickers": q.ticker.upper().lstrip("$")}})
        window: dict[str, int] = {}
        if q.since is not None:
            window["gte"] = to_us(q.since)
        if q.until is not None:
            window["lt"] = to_us(q.until)
        if window:
            out.append({"range": {"event_us": window}})
        return out

    @staticmethod
    def _histogram(bucket_seconds: int, aggs: dict[str, Any]) -> dict[str, Any]:
        # fixed intervals are rounded from the epoch: buckets are UTC multiples of bucket_seconds
        spec = {"field": "event_time", "fixed_interval": f"{bucket_seconds}s", "min_doc_count": 1}
        return {"buckets": {"date_histogram": spec, "aggs": aggs}}

    def counts(self, bucket_seconds: int, since: datetime | None = None) -> list[BucketCount]:
        """Documents per bucket x topic x sentiment, oldest bucket first."""
        inner = {"topic": {"terms": {"field": "topic", "size": _MAX_KEYS}, "aggs": {
            "sentiment": {"terms": {"field": "sentiment", "size": _MAX_KEYS}}}}}  # fmt: skip
        query = {"range": {"event_us": {"gte": to_us(since)}}} if since else {"match_all": {}}
        aggs = self._search(size=0, query=query, aggs=self._histogram(bucket_seconds, inner))["aggregations"]
        rows = [
            BucketCount(bucket=_bucket_time(b), topic=str(t["key"]), sentiment=str(s["key"]), count=s["doc_count"])
            for b in aggs["buckets"]["buckets"]
            for t in b["topic"]["buckets"]
            for s in t["sentiment"]["buckets"]
        ]
        return sorted(rows, key=lambda r: (r.bucket, r.topic, r.sentiment))

    def trend(self, query: TrendQuery) -> list[TrendBucket]:
        """Per bucket x key: documents, distinct stories, negatives, mean signed score; oldest first."""
        aggs = self._histogram(query.bucket_seconds, _keyed(query.dimension, _stats_aggs()))
        body = self._search(size=0, query={"bool": {"filter": self._filters(query)}}, aggs=aggs)
        rows = []
        for b in body["aggregations"]["buckets"]["buckets"]:
            start = _bucket_time(b)
            for key, agg in _key_buckets(query.dimension, b):
                rows.append(
                    TrendBucket(
                        bucket=start,
                        key=key,
                        count=agg["doc_count"],
                        stories=self._stories(agg, query, start, key),
                        negative=_negative(agg),
                        mean_score=agg["mean"]["value"],
                    )
                )
        return sorted(rows, key=lambda r: (r.bucket, r.key))

    def _stories(self, agg: dict[str, Any], query: TrendQuery, start: datetime, key: str) -> int:
        """Distinct stories of one cell: the cardinality while it is exact, else counted from terms."""
        value = int(agg["stories"]["value"])
        if value < _EXACT_CARDINALITY:
            return value
        cell = [*self._filters(query), {"range": {"event_us": {"gte": to_us(start)}}}]
        cell.append({"range": {"event_us": {"lt": to_us(start) + query.bucket_seconds * 1_000_000}}})
        if query.dimension != "all":
            cell.append({"term": {_FIELD[query.dimension]: key}})
        terms = {"s": {"terms": {"field": "story_id", "size": agg["doc_count"]}}}
        body = self._search(size=0, query={"bool": {"filter": cell}}, aggs=terms)
        return len(body["aggregations"]["s"]["buckets"])

    def top_keys(
        self, dimension: Dimension, since: datetime, until: datetime | None, min_count: int, limit: int
    ) -> list[KeyStat]:
        """Keys by negative share (then count, then key) with at least ``min_count`` documents."""
        window = TrendQuery(bucket_seconds=1, dimension=dimension, since=since, until=until)
        inner = {k: v for k, v in _stats_aggs().items() if k != "stories"}
        body = self._search(
            size=0,
            query={"bool": {"filter": self._filters(window)}},
            aggs=_keyed(dimension, inner),
            track_total_hits=True,
        )
        aggs = {**body["aggregations"], "doc_count": body["hits"]["total"]["value"]}
        stats = [
            KeyStat(
                key=key,
                count=a["doc_count"],
                negative=_negative(a),
                negative_share=_negative(a) / a["doc_count"],
                mean_score=a["mean"]["value"],
            )
            for key, a in _key_buckets(dimension, aggs)
            if a["doc_count"] >= min_count
        ]
        return rank_keys(stats, limit)

    def total(self) -> int:
        """How many documents are stored."""
        return int(self._call("count", lambda: self._es.count(index=self.alias)).body["count"])


def _bucket_time(bucket: dict[str, Any]) -> datetime:
    return datetime.fromtimestamp(bucket["key"] / 1000, UTC)
