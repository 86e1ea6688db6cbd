from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from finsentry.schemas import FeedHealth
from finsentry.settings import StoreSettings
from finsentry.store.es import make_es_client
from finsentry.store.es_feeds import ElasticsearchFeedHealthStore, ElasticsearchSeenItems, ElasticsearchStoryIndex
from tests.conftest import EmbeddedSearch
from tests.ingest.story_eval import doc, grouping_scores

T0 = datetime(2026, 11, 20, 12, tzinfo=UTC)


@pytest.fixture
def es(search_server: EmbeddedSearch) -> tuple[Any, str]:
    return make_es_client(StoreSettings(url=search_server.url)), f"t{uuid.uuid4().hex[:10]}"


def test_feed_health_and_seen_items(es: tuple[Any, str]) -> None:
    client, prefix = es
    health = ElasticsearchFeedHealthStore(client, prefix)
    health.put_health(FeedHealth(name="b", url="http://b.example/", status="error", last_error="HTTP 500"))
    health.put_health(FeedHealth(name="a", url="http://a.example/", status="ok", etag='"x"'))
    health.put_health(FeedHealth(name="a", url="http://a.example/", status="ok", etag='"y"'))
    again = ElasticsearchFeedHealthStore(client, prefix).list_health()
    assert [(h.name, h.status, h.etag) for h in again] == [("a", "ok", '"y"'), ("b", "error", None)]
    seen = ElasticsearchSeenItems(client, prefix)
    keys = [f"k{i}" for i in range(20)]
    assert seen.unseen(keys) == keys
    seen.remember(keys[:10], T0)
    seen.remember(["k15"], T0 + timedelta(days=5))
    assert ElasticsearchSeenItems(client, prefix).unseen(keys) == [k for k in keys[10:] if k != "k15"]
    assert seen.expire(T0 + timedelta(days=1)) == 10
    assert seen.unseen(["k1", "k15"]) == ["k1"]


def test_story_index_groups_copies_and_survives_restart(es: tuple[Any, str]) -> None:
    client, prefix = es
    index = ElasticsearchStoryIndex(client, prefix)
    out = index.assign([
        doc("b", "Apple beats quarterly revenue estimates - Reuters", T0 + timedelta(minutes=5)),
        doc("a", "UPDATE 1-Apple beats quarterly revenue estimates", T0),
        doc("c", "Apple misses quarterly revenue estimates", T0 + timedelta(minutes=1)),
    ])  # fmt: skip
    assert [d.story_id for d in out] == ["a", "a", "c"]
    again = ElasticsearchStoryIndex(client, prefix)
    assert (
        again.assign([doc("d", "Apple Beats Quarterly Revenue Estimates", T0 + timedelta(hours=1))])[0].story_id == "a"
    )
    assert again.assign([doc("b", "Apple beats quarterly revenue estimates", T0)])[0].story_id == "a"


@pytest.mark.timeout(300)
def test_story_index_precision_recall(es: tuple[Any, str]) -> None:
    scores = grouping_scores(ElasticsearchStoryIndex(*es))
    assert scores["precision"] >= 0.95 and scores["recall"] >= 0.95, scores
