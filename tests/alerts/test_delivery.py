from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import httpx
import pytest

from alerts.deliver import Deliverer, PayloadBuilder, delivery_id
from alerts.detect import EVENT_FIRING, EVENT_RESOLVED, Change, alert_id
from alerts.webhooks import RefusedDestination, check_url, new_secret, parse_networks, sign
from finsentry.schemas import Alert, Delivery, ScoredDoc, Subscriber, utcnow
from finsentry.settings import WebhookSettings
from tests.alerts.conftest import T0, Stores
from tests.alerts.receiver import Answer, Receiver

LOOPBACK_ONLY = ["127.0.0.1/32"]


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=0.5, follow_redirects=False, trust_env=False) as c:
        yield c


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver(secrets=[]) as r:
        yield r


def make_alert(key: str = "ACME", doc_ids: list[str] | None = None) -> Alert:
    return Alert(
        id=alert_id("neg", key, T0), rule="neg", key=key, severity="high", first_window_start=T0,
        window_start=T0, window_end=T0 + timedelta(minutes=5), count=6, baseline=1.0, statistic="poisson_z",
        score=5.0, threshold=3.0, doc_ids=doc_ids or [], model_version="v-test",
    )  # fmt: skip


def subscribe(stores: Stores, url: str, **fields: object) -> Subscriber:
    sub = Subscriber(id=f"sub-{len(stores.subscribers.list_subscribers())}", url=url, secrets=[new_secret()], **fields)  # type: ignore[arg-type]
    stores.subscribers.put_subscriber(sub)
    return sub


def deliverer(stores: Stores, client: httpx.Client, **webhooks: object) -> Deliverer:
    ws = WebhookSettings(**({"allow_networks": LOOPBACK_ONLY, "backoff_s": 0.05, "max_backoff_s": 0.5} | webhooks))  # type: ignore[arg-type]
    payloads = PayloadBuilder(stores.docs, "https://dash.example.com/")
    return Deliverer(stores.subscribers, stores.deliveries, payloads, ws, client)


def drain(d: Deliverer, stores: Stores, timeout: float = 10.0) -> list[Delivery]:
    deadline = time.monotonic() + timeout
    while stores.deliveries.list_deliveries(status="pending") and time.monotonic() < deadline:
        d.send_due()
        time.sleep(0.02)
    return stores.deliveries.list_deliveries()


def test_retries_after_500s_with_one_stable_webhook_id_and_valid_signatures(
    stores: Stores, client: httpx.Client, receiver: Receiver, make_doc: Callable[..., ScoredDoc]
) -> None:
    docs = [make_doc(T0 + timedelta(seconds=i)) for i in range(3)] + [
        make_doc(T0, story_id="x"),
        make_doc(T0, story_id="x"),
    ]
    stores.docs.upsert(docs)
    sub = subscribe(stores, receiver.url)
    receiver.secrets = sub.secrets
    receiver.script = [Answer(500), Answer(500)]
    d = deliverer(stores, client)
    (made,) = d.enqueue([Change(make_alert(doc_ids=[x.id for x in docs[::-1]]), EVENT_FIRING)])
    (done,) = drain(d, stores)
    assert done.status == "delivered" and [a.status_code for a in done.attempts] == [500, 500, 200]
    assert all(a.latency_ms > 0 for a in done.attempts)
    assert len(receiver.received) == 3
    assert {r.headers["webhook-id"] for r in receiver.received} == {made.id}
    assert all(r.verified[sub.secrets[0]] for r in receiver.received)
    body = json.loads(receiver.received[-1].body)
    (alert,) = body["data"]["alerts"]
    assert body["type"] == EVENT_FIRING and alert["key"] == "ACME" and alert["count"] == 6
    assert alert["link"] == f"https://dash.example.com/alerts?id={alert['id']}"
    top = alert["top_stories"]
    assert len(top) == 5 and {"title", "source", "url", "published", "sentiment", "score", "story_size"} <= set(top[0])
    assert sorted(s["story_size"] for s in top) == [1, 1, 1, 2, 2]


def test_a_hanging_receiver_times_out_and_the_retry_keeps_the_id(
    stores: Stores, client: httpx.Client, receiver: Receiver
) -> None:
    subscribe(stores, receiver.url)
    receiver.script = [Answer(200, hang_s=2.0)]
    d = deliverer(stores, client)
    d.enqueue([Change(make_alert(), EVENT_FIRING)])
    (done,) = drain(d, stores)
    assert done.status == "delivered"
    assert done.attempts[0].status_code is None and "Timeout" in (done.attempts[0].error or "")
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1 and len(receiver.received) == 2


def test_410_disables_the_subscription(stores: Stores, client: httpx.Client, receiver: Receiver) -> None:
    sub = subscribe(stores, receiver.url)
    receiver.default = Answer(410)
    d = deliverer(stores, client)
    d.enqueue([Change(make_alert(), EVENT_FIRING)])
    (done,) = drain(d, stores)
    assert done.status == "disabled" and len(receiver.received) == 1
    (after,) = stores.subscribers.list_subscribers()
    assert after.id == sub.id and not after.active
    assert d.enqueue([Change(make_alert("BETA"), EVENT_FIRING)]) == []


def test_after_the_last_try_the_delivery_is_kept_as_failed(
    stores: Stores, client: httpx.Client, receiver: Receiver
) -> None:
    subscribe(stores, receiver.url)
    receiver.default = Answer(503)
    d = deliverer(stores, client, max_attempts=3)
    d.enqueue([Change(make_alert(), EVENT_FIRING)])
    (done,) = drain(d, stores)
    assert done.status == "failed" and [a.status_code for a in done.attempts] == [503, 503, 503]


def test_retry_after_is_honoured(stores: Stores, client: httpx.Client, receiver: Receiver) -> None:
    subscribe(stores, receiver.url)
    receiver.script = [Answer(429, {"Retry-After": "1"})]
    d = deliverer(stores, client, max_backoff_s=5.0)
    d.enqueue([Change(make_alert(), EVENT_FIRING)])
    drain(d, stores)
    first, second = receiver.received
    assert second.at - first.at >= 0.95


def test_redirects_are_never_followed_to_a_refused_address(stores: Stores, client: httpx.Client) -> None:
    with Receiver() as hook, Receiver(host="127.0.0.2") as inside:
        for target in ("http://169.254.169.254/latest/meta-data/", inside.url):
            hook.script.append(Answer(302, {"Location": target}))
            subscribe(stores, hook.url)
        d = deliverer(stores, client)
        d.enqueue([Change(make_alert(), EVENT_FIRING)])
        done = drain(d, stores)
        assert [x.status for x in done] == ["failed", "failed"]
        assert all(x.attempts[0].status_code == 302 and "not followed" in (x.attempts[0].error or "") for x in done)
        assert len(hook.received) == 2 and inside.received == []


def test_the_guard_runs_again_at_delivery_when_dns_changes(stores: Stores, client: httpx.Client) -> None:
    with Receiver(host="127.0.0.2") as inside:
        port = inside.server.server_address[1]
        answers = {"hooks.example.com": ["93.184.215.14"]}
        resolve = lambda host, _port: answers[host]  # noqa: E731 - a DNS answer that changes is the fault
        url = f"http://hooks.example.com:{port}/hooks"
        check_url(url, parse_networks(LOOPBACK_ONLY), resolve)  # at `subscribers add`: public, accepted
        subscribe(stores, url)
        answers["hooks.example.com"] = ["127.0.0.2"]  # rebinding to an inside address
        d = deliverer(stores, client, max_attempts=2)
        d.resolve = resolve
        d.enqueue([Change(make_alert(), EVENT_FIRING)])
        (done,) = drain(d, stores)
        assert done.status == "failed" and all("refused" in (a.error or "") for a in done.attempts)
        assert inside.received == []


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.2:8080/x",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.1.2.3/x",
        "http://192.168.0.1/x",
        "http://[::1]/x",
        "http://[fd00:ec2::254]/x",
        "http://100.64.0.1/x",
        "ftp://example.com/x",
        "file:///etc/passwd",
        "http://user:pw@127.0.0.1/x",
        "http:///nohost",
        "http://localhost/x",
    ],
)
def test_ssrf_guard_refuses(url: str) -> None:
    with pytest.raises(RefusedDestination):
        check_url(url, parse_networks(LOOPBACK_ONLY if "localhost" not in url else []))


def test_ssrf_guard_allows_listed_networks_and_pins_the_checked_address() -> None:
    dest = check_url("http://127.0.0.1:9/x?a=1", parse_networks(LOOPBACK_ONLY))
    assert dest.pinned_url == "http://127.0.0.1:9/x?a=1" and dest.address == "127.0.0.1"
    dest = check_url("https://hooks.example.com/x", [], lambda h, p: ["93.184.215.14"])
    assert dest.pinned_url == "https://93.184.215.14:443/x" and dest.host == "hooks.example.com"


def test_both_secrets_sign_during_a_rotation_overlap(stores: Stores, client: httpx.Client) -> None:
    old, new = new_secret(), new_secret()
    with Receiver(secrets=[old, new]) as r:
        sub = Subscriber(id="s", url=r.url, secrets=[new, old], previous_until=utcnow() + timedelta(hours=1))
        stores.subscribers.put_subscriber(sub)
        d = deliverer(stores, client)
        d.enqueue([Change(make_alert(), EVENT_FIRING)])
        drain(d, stores)
        stores.subscribers.put_subscriber(sub.model_copy(update={"previous_until": utcnow() - timedelta(seconds=1)}))
        d.enqueue([Change(make_alert(), EVENT_RESOLVED)])
        drain(d, stores)
        during, after = r.received
        assert during.verified == {old: True, new: True}
        assert after.verified == {old: False, new: True}


def test_alerts_on_many_keys_go_out_as_one_notification_with_a_replay_stable_id(
    stores: Stores, client: httpx.Client
) -> None:
    subscribe(stores, "http://127.0.0.1:9/a")
    picky = subscribe(stores, "http://127.0.0.1:9/b", tickers=["BETA"])
    changes = [Change(make_alert(k), EVENT_FIRING) for k in ("ACME", "BETA", "GAMMA")]
    d = deliverer(stores, client)
    made = d.enqueue(changes)
    assert sorted(len(x.alert_ids) for x in made) == [1, 3]
    assert made[1].id == delivery_id(picky.id, EVENT_FIRING, [changes[1].alert])
    assert d.enqueue(list(reversed(changes))) == []  # a replay makes the same ids, kept once
    assert len(stores.deliveries.list_deliveries()) == 2


def test_signature_matches_the_specification_example() -> None:
    # The Standard Webhooks specification's published example.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    assert sign([secret], "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body) == (
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


def test_deliveries_are_listed_newest_first(stores: Stores) -> None:
    for i in range(3):
        stores.deliveries.put_delivery(
            Delivery(id=f"d{i}", subscriber_id="s", event=EVENT_FIRING, alert_ids=[], payload="{}",
                     created_at=datetime(2026, 1, 1 + i).astimezone())
        )  # fmt: skip
    assert [d.id for d in stores.deliveries.list_deliveries()] == ["d2", "d1", "d0"]


def test_subscriber_filters_by_severity_ticker_or_topic(stores: Stores) -> None:
    from alerts.deliver import wants

    sub = Subscriber(
        id="s", url="http://x", secrets=["whsec_x"], tickers=["ACME"], topics=["earnings"], min_severity="high"
    )
    ticker = make_alert("ACME")
    topic = ticker.model_copy(update={"dimension": "topic", "key": "earnings"})
    assert wants(sub, ticker) and wants(sub, topic)
    assert not wants(sub, make_alert("BETA"))
    assert not wants(sub, ticker.model_copy(update={"severity": "medium"}))
    assert not wants(sub.model_copy(update={"active": False}), ticker)
    assert wants(Subscriber(id="all", url="http://x", secrets=["whsec_x"]), make_alert("BETA"))
