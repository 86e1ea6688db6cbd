"""One checker for every fault case: what went in against what came out."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from finsentry.protocols import DocumentStore, SearchQuery


@dataclass
class Outcome:
    """The history of one fault case, judged."""

    fault: str
    sent: int
    good: int
    stored: int
    lost: int
    duplicated: int
    dead_expected: int = 0
    dead_found: int = 0
    lag_after: int | None = None  # the worker group's lag on news.raw once the case settled
    holds: bool = False
    note: str = ""


@dataclass
class History:
    """Inputs of one case, tagged with a nonce so the shared broker's other traffic is ignored."""

    fault: str
    nonce: str
    good_ids: set[str] = field(default_factory=set)
    sent: int = 0
    bad: int = 0

    def stored_ids(self, store: DocumentStore) -> list[str]:
        """Ids of this case's documents in the store, in pages (a duplicate would show twice)."""
        out: list[str] = []
        after = None
        while True:
            page = store.search(SearchQuery(text=self.nonce, limit=1000, after=after))
            out += [d.id for d in page]
            if len(page) < 1000:
                return out
            from finsentry.protocols import cursor_of

            after = cursor_of(page[-1])

    def judge(self, store: DocumentStore, dead_found: int = 0, note: str = "", lag: int | None = None) -> Outcome:
        """Lost = good inputs not stored; duplicated = stored more than once or not a good input.

        ``lag`` is the worker group's remaining lag (:func:`settled_lag`): it must be back to 0.
        """
        ids = self.stored_ids(store)
        distinct = set(ids)
        lost = len(self.good_ids - distinct)
        duplicated = len(ids) - len(distinct) + len(distinct - self.good_ids)
        outcome = Outcome(
            fault=self.fault,
            sent=self.sent,
            good=len(self.good_ids),
            stored=len(distinct),
            lost=lost,
            duplicated=duplicated,
            dead_expected=self.bad,
            dead_found=dead_found,
            lag_after=lag,
            note=note,
        )
        outcome.holds = lost == 0 and duplicated == 0 and dead_found >= self.bad and lag in (None, 0)
        REPORT.append(outcome)
        return outcome


REPORT: list[Outcome] = []


def settled_lag(bootstrap: str, group: str, timeout: float = 20.0) -> int:
    """The group's lag once it reached 0 (offsets are committed every second), or after ``timeout``."""
    from finsentry.broker import KafkaInspector

    inspector = KafkaInspector(bootstrap)
    try:
        deadline = time.monotonic() + timeout
        while (lag := inspector.lag(group, "news.raw")) and time.monotonic() < deadline:
            time.sleep(0.5)
        return lag
    finally:
        inspector.close()


def write_report(folder: Path) -> str:
    """The report as JSON and a markdown table; returns the table."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").write_text(json.dumps([asdict(o) for o in REPORT], indent=2) + "\n")
    rows = [
        "| fault | sent | good | stored (webhooks: counted by the receiver) | lost | duplicated"
        " | dead letters (expected / found) | lag after | holds | note |"
    ]
    rows.append("|---|---|---|---|---|---|---|---|---|---|")
    for o in REPORT:
        rows.append(
            f"| {o.fault} | {o.sent} | {o.good} | {o.stored} | {o.lost} | {o.duplicated}"
            f" | {o.dead_expected} / {o.dead_found} | {'–' if o.lag_after is None else o.lag_after}"
            f" | {'yes' if o.holds else 'NO'} | {o.note} |"
        )
    table = "\n".join(rows) + "\n"
    (folder / "report.md").write_text(table)
    return table
