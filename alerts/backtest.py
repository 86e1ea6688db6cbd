"""Replay rules over the stored archive: when would they have fired, and for how long."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from alerts.detect import Change, Detector
from alerts.rules import Rule
from finsentry.protocols import DocumentStore, SearchQuery
from finsentry.schemas import Alert, AlertState, ScoredDoc

PAGE = 10_000
PROGRESS_EVERY = 5_000
log = logging.getLogger(__name__)


class MemoryAlertStore:
    """``AlertStore`` in a dict: a backtest's alerts never touch the real store."""

    def __init__(self) -> None:
        self._alerts: dict[str, Alert] = {}

    def put_alert(self, alert: Alert) -> None:
        """Insert or replace by id."""
        self._alerts[alert.id] = alert

    def get_alert(self, alert_id: str) -> Alert | None:
        """One alert."""
        return self._alerts.get(alert_id)

    def list_alerts(
        self, state: AlertState | None = None, since: datetime | None = None, limit: int = 100
    ) -> list[Alert]:
        """Newest first."""
        found = [a for a in self._alerts.values() if (state is None or a.state == state)]
        found = [a for a in found if since is None or a.updated_at >= since]
        return sorted(found, key=lambda a: (a.updated_at, a.id), reverse=True)[:limit]


def archive(store: DocumentStore, since: datetime, until: datetime, step: timedelta) -> list[ScoredDoc]:
    """Every stored document with event time in [since, until), oldest first, read a slice at a time."""
    out: list[ScoredDoc] = []
    t = since
    while t < until:
        end = min(t + step, until)
        out.extend(reversed(store.search(SearchQuery(since=t, until=end, limit=PAGE))))
        t = end
    return out


def backtest(
    rules: Sequence[Rule],
    store: DocumentStore,
    since: datetime,
    until: datetime,
    resolve_after_windows: int = 2,
    lookback_windows: int = 12,
) -> list[Alert]:
    """The alerts ``rules`` would have made over the archive, as they stood at ``until``.

    Documents are fed in event-time order with the clock at each document's event time, so windows
    fire as they would have live (a window judged with the documents stored up to that moment).
    """
    docs = archive(store, since, until, timedelta(hours=1))
    clock = [since]
    alerts = MemoryAlertStore()
    changes: list[Change] = []
    det = Detector(
        rules, _Upto(store, clock), alerts, allowed_lateness_s=0.0, resolve_after_windows=resolve_after_windows,
        repeat_interval_s=10**9, lookback_windows=lookback_windows, clock=lambda: clock[0], publish=changes.append,
    )  # fmt: skip
    log.info("backtest: %d documents from %s to %s, %d rules", len(docs), since, until, len(rules))
    for n, doc in enumerate(docs, 1):
        if n % PROGRESS_EVERY == 0:
            log.info("backtest: %d/%d documents, %d alerts so far", n, len(docs), len(alerts.list_alerts(limit=10**9)))
        clock[0] = doc.event_time
        for target in det.targets([doc]):
            det.evaluate(target)
        det.tick()
    clock[0] = until
    det.tick()
    return sorted(alerts.list_alerts(limit=1_000_000), key=lambda a: (a.first_window_start or a.window_start, a.id))


class _Upto:
    """The document store as it stood at the backtest's clock: later documents are not seen yet."""

    def __init__(self, store: DocumentStore, clock: list[datetime]) -> None:
        self._store, self._clock = store, clock

    def search(self, query: SearchQuery) -> list[ScoredDoc]:
        cap = self._clock[0] + timedelta(microseconds=1)
        until = min(query.until, cap) if query.until else cap
        return self._store.search(query.model_copy(update={"until": until}))

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)
