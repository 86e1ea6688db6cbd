"""Alerts, webhook subscribers and deliveries in Elasticsearch, one index each.

Each record is kept whole (``payload``, not indexed) beside the keyword and time fields that
queries filter and sort on. Writes refresh before returning, so a read right after sees them
(the detector reads its own writes back to decide the next window).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from finsentry.errors import ServiceUnavailable
from finsentry.schemas import Alert, AlertState, Delivery, DeliveryStatus, Subscriber

MAX_RESULTS = 10_000  # the search window Elasticsearch allows without a cursor
_PAYLOAD = {"type": "text", "index": False}


def _template(fields: dict[str, str]) -> dict[str, Any]:
    props: dict[str, Any] = {name: {"type": kind} for name, kind in fields.items()}
    return {"dynamic": "strict", "properties": {**props, "payload": _PAYLOAD}}


ALERTS_MAPPING = _template(
    {"id": "keyword", "rule": "keyword", "key": "keyword", "state": "keyword", "updated": "double"}
)
SUBSCRIBERS_MAPPING = _template({"id": "keyword", "created": "double"})
DELIVERIES_MAPPING = _template({"id": "keyword", "subscriber_id": "keyword", "status": "keyword", "created": "double"})


class _EsIndex:
    """One index with its mapping, created on first use."""

    def __init__(self, client: Any, name: str, mapping: dict[str, Any]) -> None:
        self.client, self.name = client, name
        try:
            if not client.indices.exists(index=name):
                client.indices.create(index=name, mappings=mapping)
        except Exception as exc:
            if "resource_already_exists" not in str(exc):
                raise ServiceUnavailable(f"Elasticsearch index {name}: {exc}") from exc

    def put(self, doc_id: str, doc: dict[str, Any]) -> None:
        self.client.index(index=self.name, id=doc_id, document=doc, refresh=True)

    def get_payload(self, doc_id: str) -> str | None:
        from elasticsearch import NotFoundError

        try:
            hit = self.client.get(index=self.name, id=doc_id)
        except NotFoundError:
            return None
        return str(hit["_source"]["payload"]) if hit.get("found", True) else None

    def search(self, filters: list[dict[str, Any]], sort_field: str, limit: int) -> list[str]:
        query = {"bool": {"filter": filters}} if filters else {"match_all": {}}
        sort = [{sort_field: {"order": "desc"}}, {"id": {"order": "asc"}}]
        resp = self.client.search(index=self.name, query=query, sort=sort, size=min(limit, MAX_RESULTS))
        return [str(h["_source"]["payload"]) for h in resp["hits"]["hits"]]

    def delete(self, doc_id: str) -> bool:
        from elasticsearch import NotFoundError

        try:
            resp = self.client.delete(index=self.name, id=doc_id, refresh=True)
        except NotFoundError:
            return False
        return bool(resp.get("result") == "deleted")


class ElasticsearchAlertStore:
    """``AlertStore`` on Elasticsearch (index ``{prefix}-alerts``)."""

    def __init__(self, client: Any, prefix: str) -> None:
        self._ix = _EsIndex(client, f"{prefix}-alerts", ALERTS_MAPPING)

    def put_alert(self, alert: Alert) -> None:
        """Insert or replace by id (refreshed on return)."""
        doc = {"id": alert.id, "rule": alert.rule, "key": alert.key, "state": alert.state}
        self._ix.put(alert.id, doc | {"updated": alert.updated_at.timestamp(), "payload": alert.model_dump_json()})

    def get_alert(self, alert_id: str) -> Alert | None:
        """One alert, or None."""
        raw = self._ix.get_payload(alert_id)
        return Alert.model_validate_json(raw) if raw else None

    def list_alerts(
        self, state: AlertState | None = None, since: datetime | None = None, limit: int = 100
    ) -> list[Alert]:
        """Newest first (by ``updated_at``)."""
        filters: list[dict[str, Any]] = []
        if state is not None:
            filters.append({"term": {"state": state}})
        if since is not None:
            filters.append({"range": {"updated": {"gte": since.timestamp()}}})
        return [Alert.model_validate_json(p) for p in self._ix.search(filters, "updated", limit)]


class ElasticsearchSubscriberStore:
    """``SubscriberStore`` on Elasticsearch (index ``{prefix}-subscribers``)."""

    def __init__(self, client: Any, prefix: str) -> None:
        self._ix = _EsIndex(client, f"{prefix}-subscribers", SUBSCRIBERS_MAPPING)

    def put_subscriber(self, sub: Subscriber) -> None:
        """Insert or replace by id."""
        self._ix.put(sub.id, {"id": sub.id, "created": sub.created_at.timestamp(), "payload": sub.model_dump_json()})

    def list_subscribers(self) -> list[Subscriber]:
        """Every subscriber, oldest first."""
        subs = [Subscriber.model_validate_json(p) for p in self._ix.search([], "created", MAX_RESULTS)]
        return sorted(subs, key=lambda s: (s.created_at, s.id))

    def remove_subscriber(self, sub_id: str) -> bool:
        """Delete; False when it did not exist."""
        return self._ix.delete(sub_id)


class ElasticsearchDeliveryStore:
    """``DeliveryStore`` on Elasticsearch (index ``{prefix}-deliveries``)."""

    def __init__(self, client: Any, prefix: str) -> None:
        self._ix = _EsIndex(client, f"{prefix}-deliveries", DELIVERIES_MAPPING)

    def put_delivery(self, delivery: Delivery) -> None:
        """Insert or replace by id."""
        doc = {"id": delivery.id, "subscriber_id": delivery.subscriber_id, "status": delivery.status}
        self._ix.put(
            delivery.id, doc | {"created": delivery.created_at.timestamp(), "payload": delivery.model_dump_json()}
        )

    def get_delivery(self, delivery_id: str) -> Delivery | None:
        """One delivery, or None."""
        raw = self._ix.get_payload(delivery_id)
        return Delivery.model_validate_json(raw) if raw else None

    def list_deliveries(self, status: DeliveryStatus | None = None, limit: int = 100) -> list[Delivery]:
        """Newest first."""
        filters = [{"term": {"status": status}}] if status is not None else []
        return [Delivery.model_validate_json(p) for p in self._ix.search(filters, "created", limit)]
