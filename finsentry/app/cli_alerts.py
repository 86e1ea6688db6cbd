"""``finsentry alerts ...`` and ``finsentry subscribers ...``."""

from __future__ import annotations

import json
import signal
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from finsentry.schemas import SEVERITIES, Severity, Subscriber, utcnow
from finsentry.settings import Settings

alerts_app = typer.Typer(help="Alert rules, detection, delivery and history.", no_args_is_help=True)
subscribers_app = typer.Typer(help="Webhook subscribers.", no_args_is_help=True)


def _settings(ctx: typer.Context) -> Settings:
    settings: Settings = ctx.obj
    return settings


def _echo_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, default=str) + "\n")


def _time(value: str) -> datetime:
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"not an ISO time: {value!r}") from None
    return t if t.tzinfo else t.replace(tzinfo=UTC)  # all times are UTC


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _metrics(settings: Settings) -> None:
    """``/metrics`` and ``/healthz`` for a long-running alert process, when enabled."""
    if settings.metrics.enabled:
        from finsentry.metrics import MetricsServer

        MetricsServer(settings.metrics.address, settings.metrics.port).start()


def _outage_exits(fn: Callable[[], None], what: str) -> None:
    """Run a long-running loop; a server outage ends it with EX_TEMPFAIL so the supervisor retries it.

    Nothing is committed past the failed batch, so the restarted process replays it.
    """
    import sqlite3

    from kafka.errors import KafkaError

    from finsentry.errors import ServiceUnavailable
    from finsentry.proc import EXIT_TEMPFAIL

    outages: tuple[type[BaseException], ...] = (ServiceUnavailable, KafkaError, sqlite3.OperationalError, OSError)
    try:
        from elasticsearch import ApiError, TransportError

        outages += (ApiError, TransportError)
    except ImportError:  # pragma: no cover - the client is a dependency
        pass
    try:
        fn()
    except outages as exc:
        sys.stderr.write(f"finsentry {what}: a server is unavailable ({type(exc).__name__}: {exc}); exiting to retry\n")
        raise typer.Exit(EXIT_TEMPFAIL) from None


def _stop_event() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


@alerts_app.command("detect")
def detect(ctx: typer.Context) -> None:
    """Run the alert detector on news.scored until stopped."""
    from alerts.detect import Detector
    from alerts.rules import load_rules
    from alerts.service import AlertPublisher, make_consumer, run_detector
    from finsentry import topics
    from finsentry.app.factory import make_alert_stores, make_store
    from finsentry.app.ops import bootstrap_of
    from finsentry.broker import ensure_topics

    settings = _settings(ctx)
    a = settings.alerts
    rules = load_rules(a.rules)
    bootstrap = bootstrap_of(settings)
    ensure_topics(bootstrap, settings.kafka.partitions)
    publisher = AlertPublisher(bootstrap)
    det = Detector(
        rules, make_store(settings), make_alert_stores(settings).alerts, a.allowed_lateness_s,
        a.resolve_after_windows, a.repeat_interval_s, a.lookback_windows, publish=publisher,
    )  # fmt: skip
    consumer = make_consumer(topics.SCORED, bootstrap, a.group, a.instance_id)
    _metrics(settings)
    try:
        stop = _stop_event()
        _outage_exits(lambda: run_detector(det, consumer, stop, out=_say), "alerts detect")
    finally:
        consumer.close()
        publisher.close()


@alerts_app.command("deliver")
def deliver(ctx: typer.Context) -> None:
    """Run the webhook deliverer on the alerts topic until stopped."""
    import httpx

    from alerts.deliver import Deliverer, PayloadBuilder
    from alerts.service import make_consumer, run_deliverer
    from finsentry import topics
    from finsentry.app.factory import make_alert_stores, make_store
    from finsentry.app.ops import bootstrap_of
    from finsentry.broker import ensure_topics

    settings = _settings(ctx)
    bootstrap = bootstrap_of(settings)
    ensure_topics(bootstrap, settings.kafka.partitions)
    stores = make_alert_stores(settings)
    client = httpx.Client(timeout=settings.webhooks.timeout_s, follow_redirects=False, trust_env=False)
    payloads = PayloadBuilder(make_store(settings), settings.dashboard.url)
    deliverer = Deliverer(stores.subscribers, stores.deliveries, payloads, settings.webhooks, client)
    consumer = make_consumer(topics.ALERTS, bootstrap, settings.webhooks.group, settings.webhooks.instance_id)
    _metrics(settings)
    try:
        stop = _stop_event()
        wait = settings.alerts.group_wait_s
        _outage_exits(lambda: run_deliverer(deliverer, consumer, stop, wait, out=_say), "alerts deliver")
    finally:
        consumer.close()
        client.close()


@alerts_app.command("list")
def list_alerts(
    ctx: typer.Context,
    state: Annotated[str | None, typer.Option(help="firing or resolved")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000)] = 100,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Alerts, newest first."""
    from finsentry.app.factory import make_alert_stores

    if state not in (None, "firing", "resolved"):
        raise typer.BadParameter("--state is firing or resolved")
    found = make_alert_stores(_settings(ctx)).alerts.list_alerts(state=state, limit=limit)  # type: ignore[arg-type]
    if as_json:
        _echo_json([a.model_dump(mode="json", by_alias=True) for a in found])
        return
    for a in found:
        sys.stdout.write(
            f"{a.state:<8} {a.severity:<8} {a.rule:<24} {a.key:<12} {a.count:>4} {a.window_start} {a.id}\n"
        )


@alerts_app.command("deliveries")
def deliveries(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="pending, delivered, failed or disabled")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000)] = 100,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Webhook deliveries with every attempt (status, latency), newest first."""
    from finsentry.app.factory import make_alert_stores

    if status not in (None, "pending", "delivered", "failed", "disabled"):
        raise typer.BadParameter("--status is pending, delivered, failed or disabled")
    found = make_alert_stores(_settings(ctx)).deliveries.list_deliveries(status=status, limit=limit)  # type: ignore[arg-type]
    if as_json:
        _echo_json([d.model_dump(mode="json", by_alias=True, exclude={"payload"}) for d in found])
        return
    for d in found:
        last = d.attempts[-1] if d.attempts else None
        code = last.status_code if last else "-"
        sys.stdout.write(
            f"{d.status:<9} {d.event:<15} tries {len(d.attempts):>2} last {code} {d.id} -> {d.subscriber_id}\n"
        )


@alerts_app.command("backtest")
def backtest_cmd(
    ctx: typer.Context,
    since: Annotated[str, typer.Option(help="ISO time")],
    until: Annotated[str, typer.Option(help="ISO time")],
    rules: Annotated[Path | None, typer.Option(help="Rules YAML (default: the configured rules).")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Replay rules over the stored archive and show when they would have fired."""
    from alerts.backtest import backtest
    from alerts.rules import load_rules
    from finsentry.app.factory import make_store

    settings = _settings(ctx)
    found = backtest(
        load_rules(rules or settings.alerts.rules), make_store(settings), _time(since), _time(until),
        settings.alerts.resolve_after_windows, settings.alerts.lookback_windows,
    )  # fmt: skip
    if as_json:
        _echo_json([a.model_dump(mode="json", by_alias=True, exclude={"created_at", "updated_at"}) for a in found])
        return
    for a in found:
        sys.stdout.write(f"{a.first_window_start} {a.rule:<24} {a.key:<12} peak window {a.window_start} count {a.count}"
                         f" baseline {a.baseline:.2f} {a.statistic} {a.score:.2f} {a.state}\n")  # fmt: skip


def _public(sub: Subscriber) -> dict[str, Any]:
    return sub.model_dump(mode="json", by_alias=True, exclude={"secrets"}) | {"secrets": len(sub.secrets)}


@subscribers_app.command("add")
def add(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(help="http(s) URL that receives the webhooks")],
    secret: Annotated[str | None, typer.Option(help="whsec_ secret (generated and printed when absent)")] = None,
    topic: Annotated[list[str] | None, typer.Option(help="Only alerts on this topic (repeatable).")] = None,
    ticker: Annotated[list[str] | None, typer.Option(help="Only alerts on this ticker (repeatable).")] = None,
    min_severity: Annotated[str, typer.Option(help="low, medium, high or critical")] = "low",
) -> None:
    """Register a webhook subscriber; the URL passes the SSRF guard now and at every delivery."""
    from alerts.webhooks import check_url, new_secret, parse_networks, parse_secret
    from finsentry.app.factory import make_alert_stores
    from finsentry.ids import content_id

    settings = _settings(ctx)
    if min_severity not in SEVERITIES:
        raise typer.BadParameter(f"--min-severity is one of {', '.join(SEVERITIES)}")
    check_url(url, parse_networks(settings.webhooks.allow_networks))
    generated = secret is None
    secret = secret or new_secret()
    parse_secret(secret)
    now = utcnow()
    sev: Severity = min_severity
    sub = Subscriber(
        id="sub_" + content_id("subscriber", url, now.isoformat())[:16], url=url, secrets=[secret],
        topics=list(topic or []), tickers=[t.upper().lstrip("$") for t in ticker or []],
        min_severity=sev, created_at=now,
    )  # fmt: skip
    make_alert_stores(settings).subscribers.put_subscriber(sub)
    _echo_json(_public(sub) | ({"secret": secret} if generated else {}))


@subscribers_app.command("list")
def list_subscribers(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every subscriber (secrets are never shown)."""
    from finsentry.app.factory import make_alert_stores

    subs = make_alert_stores(_settings(ctx)).subscribers.list_subscribers()
    if as_json:
        _echo_json([_public(s) for s in subs])
        return
    for s in subs:
        state = "active" if s.active else f"disabled ({s.disabled_reason})"
        sys.stdout.write(f"{s.id} {s.url} {state} min {s.min_severity} tickers {s.tickers} topics {s.topics}\n")


@subscribers_app.command("remove")
def remove(ctx: typer.Context, sub_id: Annotated[str, typer.Argument()]) -> None:
    """Delete a subscriber."""
    from finsentry.app.factory import make_alert_stores
    from finsentry.errors import ConfigError

    if not make_alert_stores(_settings(ctx)).subscribers.remove_subscriber(sub_id):
        raise ConfigError(f"no subscriber {sub_id!r}")
    _echo_json({"removed": sub_id})


@subscribers_app.command("rotate-secret")
def rotate_secret(
    ctx: typer.Context,
    sub_id: Annotated[str, typer.Argument()],
    secret: Annotated[str | None, typer.Option(help="the new whsec_ secret (generated when absent)")] = None,
    overlap_hours: Annotated[float, typer.Option(min=0, help="hours the old secret keeps signing too")] = 24.0,
) -> None:
    """Put a new secret first; the previous one still signs until the overlap ends."""
    from alerts.webhooks import new_secret, parse_secret
    from finsentry.app.factory import make_alert_stores
    from finsentry.errors import ConfigError

    store = make_alert_stores(_settings(ctx)).subscribers
    sub = next((s for s in store.list_subscribers() if s.id == sub_id), None)
    if sub is None:
        raise ConfigError(f"no subscriber {sub_id!r}")
    generated = secret is None
    secret = secret or new_secret()
    parse_secret(secret)
    until = utcnow() + timedelta(hours=overlap_hours)
    store.put_subscriber(sub.model_copy(update={"secrets": [secret, sub.secrets[0]], "previous_until": until}))
    _echo_json({"id": sub_id, "previous_until": until.isoformat()} | ({"secret": secret} if generated else {}))
