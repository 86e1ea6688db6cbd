"""Elasticsearch faults: unreachable cluster, 429 storms, mapping conflicts, oversize documents.

Load refusals and oversize requests are injected by a transport node in front of the real server
(noida-db, or ``TEST_ES_URL``): the only faults here the server cannot be made to produce itself.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any, ClassVar

import pytest
from elastic_transport import ApiResponseMeta, HttpHeaders, Urllib3HttpNode
from elastic_transport._node._base import NodeApiResponse
from elasticsearch import Elasticsearch

from finsentry.errors import ConfigError, ServiceUnavailable
from finsentry.protocols import SearchQuery
from finsentry.schemas import ScoredDoc
from finsentry.store.elasticsearch import ElasticsearchStore
from finsentry.store.es_layout import month_index
from tests.conftest import free_port
from tests.finsentry.store.conftest import T0, es_url


class Faults:
    """What the next bulk requests get: whole-request statuses, item-level 429s, a size limit."""

    request_statuses: ClassVar[list[int]] = []
    item_429_rounds = 0
    max_request_bytes = 0
    bulk_requests = 0


class FaultyNode(Urllib3HttpNode):
    """Answers ``_bulk`` with injected refusals, else forwards to the real server."""

    def perform_request(  # type: ignore[override]
        self, method: str, target: str, body: bytes | None = None, **kw: Any
    ) -> NodeApiResponse:
        if "_bulk" not in target:
            return super().perform_request(method, target, body, **kw)
        Faults.bulk_requests += 1
        if Faults.request_statuses:
            return self._answer(Faults.request_statuses.pop(0), {"error": {"type": "es_rejected_execution_exception"}})
        if Faults.max_request_bytes and body is not None and len(body) > Faults.max_request_bytes:
            return self._answer(413, {"error": {"type": "request_entity_too_large", "reason": f"{len(body)} bytes"}})
        resp = super().perform_request(method, target, body, **kw)
        if Faults.item_429_rounds <= 0:
            return resp
        Faults.item_429_rounds -= 1
        data = json.loads(resp.body)
        for item in data["items"][::2]:  # every other item "refused for load" (it was indexed: retry overwrites)
            item["index"].update(status=429, error={"type": "es_rejected_execution_exception", "reason": "queue"})
        data["errors"] = True
        return NodeApiResponse(resp.meta, json.dumps(data).encode())

    def _answer(self, status: int, body: dict[str, Any]) -> NodeApiResponse:
        headers = HttpHeaders({"content-type": "application/json", "x-elastic-product": "Elasticsearch"})
        meta = ApiResponseMeta(status=status, http_version="1.1", headers=headers, duration=0.0, node=self.config)
        return NodeApiResponse(meta, json.dumps(body).encode())


@pytest.fixture
def faulty(request: pytest.FixtureRequest) -> Iterator[ElasticsearchStore]:
    Faults.request_statuses, Faults.item_429_rounds, Faults.max_request_bytes, Faults.bulk_requests = [], 0, 0, 0
    url = es_url(request)
    client = Elasticsearch(url, node_class=FaultyNode, request_timeout=10, max_retries=0, retry_on_status=())
    store = ElasticsearchStore(client, f"f{uuid.uuid4().hex[:10]}", url=url, retry_seconds=20, refresh=True)
    store.writer.sleep = lambda s: time.sleep(min(s, 0.05))
    store.ensure()
    yield store
    store.drop_all()
    store.close()


def test_unreachable_cluster_at_start_names_the_url() -> None:
    url = f"http://elastic:s3cret@127.0.0.1:{free_port()}"
    store = ElasticsearchStore(Elasticsearch(url, request_timeout=1, max_retries=0), "x", url=url, retry_seconds=1)
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable) as err:
        store.ensure()
    assert time.monotonic() - started >= 0.8, "gave up without retrying"
    assert "127.0.0.1" in str(err.value) and "s3cret" not in str(err.value)


def test_429_storm_is_ridden_out(faulty: ElasticsearchStore, make_doc: Callable[..., ScoredDoc]) -> None:
    docs = [make_doc(i) for i in range(30)]
    Faults.request_statuses = [429, 429, 503, 429]
    Faults.item_429_rounds = 3
    assert faulty.upsert(docs) == []
    assert faulty.total() == 30
    assert Faults.bulk_requests == 4 + 3 + 1  # refused requests, partly refused rounds, the last round
    assert {d.id for d in faulty.search(SearchQuery(limit=100))} == {d.id for d in docs}


def test_storm_that_never_ends_raises_service_unavailable(
    faulty: ElasticsearchStore, make_doc: Callable[..., ScoredDoc]
) -> None:
    faulty.writer.retry_seconds = 0.5
    faulty.writer.sleep = time.sleep
    Faults.request_statuses = [429] * 1000
    with pytest.raises(ServiceUnavailable, match="did not accept 3"):
        faulty.upsert([make_doc(i) for i in range(3)])


def test_oversize_documents_are_rejected_and_the_rest_stored(
    faulty: ElasticsearchStore, make_doc: Callable[..., ScoredDoc]
) -> None:
    small = [make_doc(i) for i in range(6)]
    big_for_server = make_doc(100, body="x" * 60_000)
    big_for_us = make_doc(101, body="y" * 300_000)
    faulty.max_doc_bytes = 200_000
    Faults.max_request_bytes = 50_000  # the server refuses requests above this (HTTP 413)
    rejected = faulty.upsert([*small[:3], big_for_server, big_for_us, *small[3:]])
    assert {r.doc_id for r in rejected} == {big_for_server.id, big_for_us.id}
    assert all("too large" in r.reason for r in rejected)
    assert {d.id for d in faulty.search(SearchQuery(limit=100))} == {d.id for d in small}


def test_chunks_respect_count_and_bytes(faulty: ElasticsearchStore, make_doc: Callable[..., ScoredDoc]) -> None:
    faulty.writer = replace(faulty.writer, max_docs=7, max_bytes=8_000)
    docs = [make_doc(i, body="z" * (1500 if i % 5 == 0 else 10)) for i in range(40)]
    assert faulty.upsert(docs) == []
    assert faulty.total() == 40
    from finsentry.store.es_bulk import BulkItem

    items = [BulkItem("i", d.id, json.dumps(d.model_dump(mode="json")).encode()) for d in docs]
    chunks = list(faulty.writer.chunks(items))
    assert [i for c in chunks for i in c] == items
    assert all(len(c) <= 7 and sum(len(i.body) + 100 for i in c) <= 8_000 for c in chunks)
    assert Faults.bulk_requests >= len(chunks)


def test_incompatible_existing_mapping_is_refused_naming_the_field(request: pytest.FixtureRequest) -> None:
    url = es_url(request)
    client = Elasticsearch(url, request_timeout=10)
    prefix = f"m{uuid.uuid4().hex[:10]}"
    index = month_index(prefix, T0)
    client.indices.create(index=index, mappings={"properties": {"signed_score": {"type": "keyword"}}})
    store = ElasticsearchStore(client, prefix, url=url, retry_seconds=2)
    try:
        with pytest.raises(ConfigError, match=r"signed_score.*keyword.*double"):
            store.ensure()
    finally:
        client.indices.delete(index=index)
        client.close()


def test_item_refused_by_a_mapping_is_rejected_with_the_server_reason(
    request: pytest.FixtureRequest, make_doc: Callable[..., ScoredDoc]
) -> None:
    url = es_url(request)
    client = Elasticsearch(url, request_timeout=10)
    prefix = f"c{uuid.uuid4().hex[:10]}"
    store = ElasticsearchStore(client, prefix, url=url, retry_seconds=2, refresh=True)
    store.ensure()
    # an index of another month created by hand with a conflicting field (the template fills the rest)
    october = month_index(prefix, T0.replace(month=10))
    client.indices.create(index=october, mappings={"properties": {"topic": {"type": "long"}}})
    try:
        ok, bad = make_doc(1), make_doc(2, minutes=-60 * 24 * 30)
        rejected = store.upsert([ok, bad])
        assert [r.doc_id for r in rejected] == [bad.id]
        assert "topic" in rejected[0].reason
        assert store.get(ok.id) == ok and store.get(bad.id) is None
    finally:
        store.drop_all()
        client.close()


def test_overwrite_stays_in_the_index_of_the_first_write(
    faulty: ElasticsearchStore, make_doc: Callable[..., ScoredDoc]
) -> None:
    first = make_doc(1)
    moved = make_doc(1, minutes=-60 * 24 * 40, version="v2")  # re-published a month earlier
    faulty.upsert([first])
    faulty.upsert([moved])
    assert faulty.total() == 1
    assert faulty.get(first.id) == moved
    other = make_doc(2)
    faulty.upsert([other, make_doc(2, minutes=-60 * 24 * 40, version="v3")])  # twice in one batch
    assert faulty.total() == 2 and faulty.get(other.id).model_version == "v3"  # type: ignore[union-attr]
