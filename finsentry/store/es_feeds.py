"""Crawler records on Elasticsearch: feed health, the seen-set, and the story index.

Indices (created on first use with explicit mappings): ``<prefix>-feed-health`` (one document per
feed), ``<prefix>-seen`` (one per produced item key), ``<prefix>-stories`` (one per document:
story id, event time, words, MinHash band keys). Writes wait for refresh, so every worker sees
what another assigned a moment ago.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from finsentry.errors import ServiceUnavailable
from finsentry.schemas import FeedHealth, ScoredDoc
from finsentry.stories import WINDOW_S, Signature, same_story

log = logging.getLogger(__name__)
_CHUNK = 500
LOCK_TTL_S = 30.0  # a worker that died holding the story lock blocks others at most this long

_MAPPINGS: dict[str, dict[str, Any]] = {
    "feed-health": {
        "dynamic": False,
        "properties": {"name": {"type": "keyword"}, "payload": {"type": "keyword", "index": False}},
    },
    "seen": {"dynamic": False, "properties": {"seen_at": {"type": "date"}}},
    "stories": {
        "dynamic": False,
        "properties": {
            "story_id": {"type": "keyword"},
            "event_time": {"type": "date"},
            "words": {"type": "keyword", "index": False},
            "bands": {"type": "keyword"},
            "expires": {"type": "double"},
        },
    },
}


class _Indices:
    def __init__(self, client: Any, prefix: str) -> None:
        self.client, self.prefix = client, prefix
        self._ready: set[str] = set()

    def name(self, kind: str) -> str:
        full = f"{self.prefix}-{kind}"
        if full not in self._ready:
            if not self.client.indices.exists(index=full):
                try:
                    self.client.indices.create(index=full, mappings=_MAPPINGS[kind])
                except Exception as exc:  # another process created it first
                    if not self.client.indices.exists(index=full):
                        raise ServiceUnavailable(f"cannot create index {full}: {exc}") from exc
            self._ready.add(full)
        return full


class ElasticsearchFeedHealthStore:
    """Per-feed health in ``<prefix>-feed-health``.

    Args:
        client: an ``Elasticsearch`` client (``finsentry.store.es.make_es_client``).
        prefix: the index prefix.

    """

    def __init__(self, client: Any, prefix: str) -> None:
        self._ix = _Indices(client, prefix)

    def put_health(self, health: FeedHealth) -> None:
        """Insert or replace by feed name."""
        body = {"name": health.name, "payload": health.model_dump_json(by_alias=True)}
        self._ix.client.index(index=self._ix.name("feed-health"), id=health.name, document=body, refresh="wait_for")

    def list_health(self) -> list[FeedHealth]:
        """Every feed's latest health, by name."""
        res = self._ix.client.search(index=self._ix.name("feed-health"), query={"match_all": {}}, size=10_000)
        out = [FeedHealth.model_validate_json(h["_source"]["payload"]) for h in res["hits"]["hits"]]
        return sorted(out, key=lambda h: h.name)


class ElasticsearchSeenItems:
    """The crawler's seen-set in ``<prefix>-seen`` (document id = key).

    Args:
        client: an ``Elasticsearch`` client.
        prefix: the index prefix.

    """

    def __init__(self, client: Any, prefix: str) -> None:
        self._ix = _Indices(client, prefix)

    def unseen(self, keys: Sequence[str]) -> list[str]:
        """The keys not remembered, in the given order."""
        known: set[str] = set()
        index = self._ix.name("seen")
        for i in range(0, len(keys), _CHUNK):
            res = self._ix.client.mget(index=index, ids=list(keys[i : i + _CHUNK]), source=False)
            known.update(d["_id"] for d in res["docs"] if d.get("found"))
        return [k for k in keys if k not in known]

    def remember(self, keys: Sequence[str], at: datetime) -> None:
        """Remember keys as seen at ``at`` (durable on return)."""
        index = self._ix.name("seen")
        for i in range(0, len(keys), _CHUNK):
            ops: list[dict[str, Any]] = []
            for key in keys[i : i + _CHUNK]:
                ops += [{"index": {"_index": index, "_id": key}}, {"seen_at": at.isoformat()}]
            res = self._ix.client.bulk(operations=ops, refresh="wait_for")
            if res.get("errors"):
                raise ServiceUnavailable("seen-set write partly refused")

    def expire(self, before: datetime) -> int:
        """Forget keys seen before ``before``; return how many."""
        res = self._ix.client.delete_by_query(
            index=self._ix.name("seen"), query={"range": {"seen_at": {"lt": before.isoformat()}}}, refresh=True
        )
        return int(res.get("deleted", 0))


class ElasticsearchStoryIndex:
    """Story grouping in ``<prefix>-stories``, shared by every worker.

    Same rules as the SQLite index (``finsentry.stories``). Workers take turns through a lock
    document created with ``op_type=create`` (which only one writer wins), held for one batch
    and expiring after ``LOCK_TTL_S`` if its holder died.

    Args:
        client: an ``Elasticsearch`` client.
        prefix: the index prefix.

    """

    def __init__(self, client: Any, prefix: str) -> None:
        self._ix = _Indices(client, prefix)

    def assign(self, docs: Sequence[ScoredDoc]) -> list[ScoredDoc]:
        """The same documents (same order) with ``story_id`` set to the earliest known copy's id."""
        story: dict[str, str] = {}
        with self._locked():
            known = self._known([d.id for d in docs])
            for doc in sorted(docs, key=lambda d: (d.event_time, d.id)):
                story[doc.id] = known.get(doc.id) or self._assign_one(doc)
        return [d.model_copy(update={"story_id": story[d.id]}) for d in docs]

    def _known(self, ids: list[str]) -> dict[str, str]:
        res = self._ix.client.mget(index=self._ix.name("stories"), ids=ids)
        return {d["_id"]: d["_source"]["story_id"] for d in res["docs"] if d.get("found")}

    def _assign_one(self, doc: ScoredDoc) -> str:
        sig = Signature.of(doc.title or doc.body[:300])
        when = doc.event_time.timestamp()
        story_id = self._earliest_match(sig, when) or doc.id
        body = {
            "story_id": story_id,
            "event_time": doc.event_time.isoformat(),
            "words": " ".join(sig.words),
            "bands": sig.bands,
        }
        self._ix.client.index(index=self._ix.name("stories"), id=doc.id, document=body, refresh="wait_for")
        return story_id

    def _earliest_match(self, sig: Signature, when: float) -> str | None:
        if not sig.bands:
            return None
        window = {
            "gte": datetime.fromtimestamp(when - WINDOW_S, UTC).isoformat(),
            "lte": datetime.fromtimestamp(when + WINDOW_S, UTC).isoformat(),
        }
        query = {"bool": {"filter": [{"terms": {"bands": sig.bands}}, {"range": {"event_time": window}}]}}
        res = self._ix.client.search(index=self._ix.name("stories"), query=query, size=200)
        matches = []
        for hit in res["hits"]["hits"]:
            src = hit["_source"]
            if same_story(sig.words, src["words"].split()):
                matches.append((datetime.fromisoformat(src["event_time"]).timestamp(), hit["_id"], src["story_id"]))
        return min(matches)[2] if matches else None

    @contextmanager
    def _locked(self) -> Iterator[None]:
        index = self._ix.name("stories")
        deadline = time.monotonic() + 2 * LOCK_TTL_S
        while True:
            try:
                self._ix.client.index(
                    index=index,
                    id="_lock",
                    document={"expires": time.time() + LOCK_TTL_S},
                    op_type="create",
                    refresh="wait_for",
                )
                break
            except Exception as exc:  # a conflict: someone holds it
                if getattr(exc, "status_code", getattr(exc, "status", None)) != 409 or time.monotonic() > deadline:
                    raise ServiceUnavailable(f"story index lock: {exc}") from exc
                self._break_if_stale(index)
                time.sleep(0.05)
        try:
            yield
        finally:
            self._ix.client.delete(index=index, id="_lock", refresh="wait_for")

    def _break_if_stale(self, index: str) -> None:
        try:
            held = self._ix.client.get(index=index, id="_lock")
        except Exception:  # noqa: BLE001 - released in between
            return
        if float(held["_source"].get("expires", 0)) < time.time():
            log.warning("story index lock expired (its holder died); taking it over")
            self._ix.client.delete(index=index, id="_lock", refresh="wait_for")
