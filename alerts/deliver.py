"""Notifications from alert changes, and their delivery as signed webhooks with retries.

One notification per subscriber and state change: alerts on many keys that change together go out
in one request whose ``webhook-id`` derives from the subscriber, the change and the sorted alert ids,
so a replay of the same changes makes the same id (and the store keeps the first one's outcome).
"""

from __future__ import annotations

import json
import logging
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx

from alerts.detect import EVENT_REPEAT, Change
from alerts.webhooks import Outcome, RefusedDestination, check_url, parse_networks, post, sign, system_resolver
from finsentry.ids import content_id
from finsentry.metrics import DELIVERIES
from finsentry.protocols import DeliveryStore, DocumentStore, SearchQuery, SubscriberStore
from finsentry.schemas import SEVERITIES, Alert, Delivery, DeliveryAttempt, ScoredDoc, Subscriber, utcnow
from finsentry.settings import WebhookSettings

log = logging.getLogger(__name__)
TOP_STORIES = 5


def wants(sub: Subscriber, alert: Alert) -> bool:
    """Does the subscriber's filter take this alert."""
    if not sub.active or SEVERITIES.index(alert.severity) < SEVERITIES.index(sub.min_severity):
        return False
    if not sub.tickers and not sub.topics:
        return True
    # either filter admits an alert on one of its keys
    return (alert.dimension == "ticker" and alert.key in sub.tickers) or (
        alert.dimension == "topic" and alert.key in sub.topics
    )


def delivery_id(sub_id: str, event: str, alerts: Sequence[Alert]) -> str:
    """The ``webhook-id``: subscriber, state change and sorted alert ids (repeats numbered)."""
    parts = sorted(f"{a.id}#{a.repeats}" if event == EVENT_REPEAT else a.id for a in alerts)
    return "msg_" + content_id("delivery", sub_id, event, *parts)


class PayloadBuilder:
    """The JSON body: every alert with its evidence stories and a dashboard link."""

    def __init__(self, docs: DocumentStore, dashboard_url: str) -> None:
        self._docs = docs
        self._dashboard = dashboard_url.rstrip("/")

    def _stories(self, alert: Alert) -> list[dict[str, object]]:
        q = SearchQuery(since=alert.window_start, until=alert.window_end, limit=10_000)
        if alert.dimension != "all":
            q = q.model_copy(update={alert.dimension: alert.key})
        window = self._docs.search(q)
        sizes = Counter(d.story_id for d in window)
        by_id = {d.id: d for d in window}
        top = [by_id.get(i) or self._docs.get(i) for i in alert.doc_ids[:TOP_STORIES]]
        return [_story(d, sizes.get(d.story_id, 1)) for d in top if d is not None]

    def alert(self, alert: Alert) -> dict[str, object]:
        """One alert as the payload shows it."""
        body = alert.model_dump(mode="json", exclude={"schema_", "doc_ids"})
        body["window"] = {"start": body.pop("window_start"), "end": body.pop("window_end")}
        body["link"] = f"{self._dashboard}/alerts?id={alert.id}"
        body["top_stories"] = self._stories(alert)
        return body

    def build(self, event: str, alerts: Sequence[Alert], now: datetime) -> str:
        """The whole body, fixed once so that every retry signs the same bytes."""
        data = {"type": event, "timestamp": now.isoformat(), "data": {"alerts": [self.alert(a) for a in alerts]}}
        return json.dumps(data, separators=(",", ":"), sort_keys=True)


def _story(doc: ScoredDoc, size: int) -> dict[str, object]:
    return {
        "id": doc.id,
        "title": doc.title,
        "source": doc.source,
        "url": doc.url,
        "published": doc.event_time.isoformat(),
        "sentiment": doc.sentiment,
        "score": doc.sentiment_score,
        "signed_score": doc.signed_score,
        "story_size": size,
    }


def notifications(
    changes: Sequence[Change], subscribers: Sequence[Subscriber]
) -> list[tuple[Subscriber, str, list[Alert]]]:
    """Group changes into one (subscriber, event, alerts) per subscriber and event."""
    out: list[tuple[Subscriber, str, list[Alert]]] = []
    by_event: dict[str, dict[str, Alert]] = {}
    for c in changes:
        by_event.setdefault(c.event, {})[c.alert.id] = c.alert  # the latest version of each alert
    for event, alerts in sorted(by_event.items()):
        for sub in subscribers:
            mine = sorted((a for a in alerts.values() if wants(sub, a)), key=lambda a: a.id)
            if mine:
                out.append((sub, event, mine))
    return out


@dataclass
class Deliverer:
    """Makes deliveries from alert changes and sends the due ones.

    Args:
        subscribers: who to notify.
        deliveries: where deliveries and their attempts are kept.
        payloads: builds bodies.
        settings: timeouts, attempts, backoff, allowed networks.
        client: the HTTP client (no redirects).
        clock: now (UTC).
        resolve: the DNS resolver the SSRF guard uses.

    """

    subscribers: SubscriberStore
    deliveries: DeliveryStore
    payloads: PayloadBuilder
    settings: WebhookSettings
    client: httpx.Client
    clock: Callable[[], datetime] = utcnow
    resolve: Callable[[str, int], list[str]] = system_resolver

    def enqueue(self, changes: Sequence[Change]) -> list[Delivery]:
        """Store a pending delivery per notification unless one with its id exists already."""
        made = []
        now = self.clock()
        for sub, event, alerts in notifications(changes, self.subscribers.list_subscribers()):
            did = delivery_id(sub.id, event, alerts)
            if self.deliveries.get_delivery(did) is not None:
                continue  # a replay or a second instance: the first one stands
            body = self.payloads.build(event, alerts, now)
            d = Delivery(
                id=did, subscriber_id=sub.id, event=event, alert_ids=[a.id for a in alerts], payload=body,
                next_attempt_at=now, created_at=now,
            )  # fmt: skip
            self.deliveries.put_delivery(d)
            made.append(d)
        return made

    def due(self) -> list[Delivery]:
        """Pending deliveries whose next try is due, oldest first."""
        now = self.clock()
        pending = self.deliveries.list_deliveries(status="pending", limit=10_000)
        return sorted((d for d in pending if (d.next_attempt_at or now) <= now), key=lambda d: d.created_at)

    def send_due(self) -> int:
        """Try every due delivery once; returns how many were tried."""
        subs = {s.id: s for s in self.subscribers.list_subscribers()}
        due = self.due()
        for d in due:
            self.attempt(d, subs.get(d.subscriber_id))
        return len(due)

    def _secrets(self, sub: Subscriber) -> list[str]:
        live = sub.previous_until is not None and self.clock() < sub.previous_until
        return sub.secrets if live else sub.secrets[:1]

    def attempt(self, d: Delivery, sub: Subscriber | None) -> Delivery:
        """One try: guard, sign, POST, record; then delivered, retried later, failed or disabled."""
        now = self.clock()
        if sub is None or not sub.active:
            return self._finish(d, DeliveryAttempt(at=now, error="subscriber removed or disabled"), "disabled")
        ts = int(now.timestamp())
        body = d.payload.encode()
        headers = {
            "webhook-id": d.id,
            "webhook-timestamp": str(ts),
            "webhook-signature": sign(self._secrets(sub), d.id, ts, body),
        }
        try:
            dest = check_url(sub.url, parse_networks(self.settings.allow_networks), self.resolve)
            out = post(self.client, dest, headers, body)
        except RefusedDestination as exc:
            out = Outcome(None, f"refused: {exc}", 0.0)
        att = DeliveryAttempt(at=now, status_code=out.status_code, error=out.error, latency_ms=round(out.latency_ms, 3))
        log.info("delivery %s to %s: %s %s", d.id, sub.id, out.status_code, out.error or "")
        return self._judge(d, sub, att, out)

    def _judge(self, d: Delivery, sub: Subscriber, att: DeliveryAttempt, out: Outcome) -> Delivery:
        code = out.status_code
        if code is not None and 200 <= code < 300:
            return self._finish(d, att, "delivered")
        if code == 410:
            self.subscribers.put_subscriber(sub.model_copy(update={"active": False, "disabled_reason": "410 Gone"}))
            log.warning("subscriber %s answered 410: disabled", sub.id)
            return self._finish(d, att, "disabled")
        if code is not None and 300 <= code < 400:
            return self._finish(d, att, "failed")  # a redirect is never followed, so retrying cannot help
        if len(d.attempts) + 1 >= self.settings.max_attempts:
            return self._finish(d, att, "failed")
        delay = self.backoff(len(d.attempts) + 1, out.retry_after_s)
        return self._finish(d, att, "pending", self.clock() + timedelta(seconds=delay))

    def backoff(self, tries: int, retry_after_s: float | None) -> float:
        """Exponential backoff with equal jitter; a server's Retry-After is a lower bound; capped."""
        s = self.settings
        full = min(s.max_backoff_s, s.backoff_s * 2 ** (tries - 1))
        delay = full / 2 + random.uniform(0, full / 2)
        return min(s.max_backoff_s, max(delay, retry_after_s or 0.0))

    def _finish(self, d: Delivery, att: DeliveryAttempt, status: str, next_at: datetime | None = None) -> Delivery:
        new = d.model_copy(update={"attempts": [*d.attempts, att], "status": status, "next_attempt_at": next_at})
        DELIVERIES.labels("retry" if status == "pending" else status).inc()
        self.deliveries.put_delivery(new)
        return new
