"""The alert path of the end-to-end benchmark: produce → webhook received (``bench/e2e.py --alerts``).

Bursts of negative headlines on synthetic tickers are mixed into the offered stream; the real
``finsentry alerts detect`` and ``finsentry alerts deliver`` run beside the workers with the product's
alert and webhook settings, except what reaching a receiver on 127.0.0.1 needs; a receiver in this
process records when each webhook arrives. An alert's latency is the arrival of its first delivery
minus the produce time of the newest evidence document in that delivery: the one that made the rule
fire (evidence is newest first by event time, which for these documents is their produce time).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from common import percentile

# Run as a script, bench/ comes first on the path and its alerts.py would shadow the alerts package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alerts.service import DELIVERER_READY, DETECTOR_READY
from finsentry.schemas import extract_tickers
from finsentry.settings import Settings

RULE = "bench-negative-burst"
MIN_STORIES = 5
BURST_SIZE = MIN_STORIES + 1  # one over the threshold, so the rule fires whether a batch holds five or six
RULES = f"""rules:
  - name: {RULE}
    dimension: ticker
    signal: negative_stories
    window_s: 3600
    baseline_windows: 6
    min_stories: {MIN_STORIES}
    z: 3.0
    severity: high
"""
# Distinct stories (little word overlap), each read as negative by the bundled model; {t} is the cashtag.
BURST_HEADLINES = [
    "{t} shares plunge after accounting fraud probe widens",
    "{t} slashes full-year guidance as orders collapse",
    "{t} hit with record regulator fine, stock tumbles",
    "{t} misses profit estimates and warns of deeper losses",
    "{t} downgraded to junk as default fears mount",
    "{t} CEO resigns amid criminal charges, shares sink",
]
DELIVERY_WAIT_S = 60.0
Spawn = Callable[[list[str], dict[str, str], Path, str | None], subprocess.Popen[bytes]]


def progress(msg: str) -> None:
    sys.stderr.write(f"[e2e] {msg}\n")
    sys.stderr.flush()


def burst_tickers(count: int, taken: set[str]) -> list[str]:
    """``count`` made-up tickers (XQAA, XQAB, ...) that none of the normal headlines mentions."""
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    names = (f"XQ{a}{b}" for a in letters for b in letters)
    return [n for n in names if n not in taken][:count]


def with_bursts(titles: list[str], bursts: int) -> tuple[list[str], list[str]]:
    """The titles with ``bursts`` bursts spread evenly through them, and the bursts' tickers.

    Each burst is ``BURST_SIZE`` consecutive negative headlines on one ticker, so they are produced
    within a pacing tick or two of each other.
    """
    taken = {t for title in titles for t in extract_tickers(title)}
    tickers = burst_tickers(bursts, taken)
    out = list(titles)
    for k in reversed(range(bursts)):  # from the back, so the earlier positions still hold
        at = int((k + 0.5) * len(titles) / bursts)
        out[at:at] = [h.format(t=f"${tickers[k]}") for h in BURST_HEADLINES]
    return out, tickers


class WebhookReceiver:
    """An HTTP server on 127.0.0.1 (a free port) that answers 200 and keeps (arrival time, JSON body)."""

    def __init__(self) -> None:
        self.received: list[tuple[float, Any]] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                receiver.record(time.time(), body)
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass  # one line per request on stderr would bury the progress lines

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """Where subscribers point."""
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def record(self, at: float, body: bytes) -> None:
        """Keep one request; a body that is not JSON is kept as None."""
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        with self._lock:
            self.received.append((at, data))

    def snapshot(self) -> list[tuple[float, Any]]:
        """The requests so far, in arrival order."""
        with self._lock:
            return sorted(self.received, key=lambda r: r[0])

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()


def first_deliveries(received: list[tuple[float, Any]]) -> dict[str, tuple[float, str, list[str]]]:
    """Alert id → (arrival of its first delivery, key, evidence document ids in that delivery).

    One request may carry several alerts: the deliverer groups the changes of ``group_wait_s``.
    """
    out: dict[str, tuple[float, str, list[str]]] = {}
    for at, body in received:
        alerts = body.get("data", {}).get("alerts", []) if isinstance(body, dict) else []
        for a in alerts:
            if a.get("id") not in out:
                out[a["id"]] = (at, str(a.get("key", "")), [s["id"] for s in a.get("top_stories", [])])
    return out


class AlertHarness:
    """Detector, deliverer and receiver of one run, and what they measured.

    Args:
        tmp: the run's FINSENTRY_HOME (the rules file and the logs go there).
        tickers: the burst tickers; one alert is expected on each.

    """

    def __init__(self, tmp: Path, tickers: list[str]) -> None:
        self.tmp, self.tickers = tmp, set(tickers)
        self.receiver = WebhookReceiver()
        rules = tmp / "bench-rules.yaml"
        rules.write_text(RULES)
        # everything else stays at the product's defaults
        self.overrides = {
            "FINSENTRY_ALERTS__RULES": str(rules),
            "FINSENTRY_WEBHOOKS__ALLOW_NETWORKS": '["127.0.0.1/32"]',  # the SSRF guard refuses loopback
        }

    def start(self, env: dict[str, str], spawn: Spawn) -> dict[str, subprocess.Popen[bytes]]:
        """Register the receiver as a subscriber, then start the detector and the deliverer."""
        env = {**env, **self.overrides}
        cli = [sys.executable, "-m", "finsentry.app.cli"]
        add = [*cli, "subscribers", "add", self.receiver.url]
        subprocess.run(add, env=env, capture_output=True, timeout=120, check=True)
        return {
            "detector": spawn([*cli, "alerts", "detect"], env, self.tmp / "detector.log", DETECTOR_READY),
            "deliverer": spawn([*cli, "alerts", "deliver"], env, self.tmp / "deliverer.log", DELIVERER_READY),
        }

    def delivered(self) -> set[str]:
        """Distinct alert ids on burst tickers received so far."""
        firsts = first_deliveries(self.receiver.snapshot())
        return {aid for aid, (_, key, _) in firsts.items() if key in self.tickers}

    def wait(self, timeout: float = DELIVERY_WAIT_S) -> None:
        """Until an alert on every burst ticker has arrived, or ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        said = -1
        while (got := len(self.delivered())) < len(self.tickers) and time.monotonic() < deadline:
            if got != said:
                progress(f"webhooks: {got}/{len(self.tickers)} burst alerts received; waiting")
                said = got
            time.sleep(0.2)
        progress(f"webhooks: {len(self.delivered())}/{len(self.tickers)} burst alerts received")

    def report(self, scored: dict[str, tuple[float, float]]) -> dict[str, Any]:
        """The run's alert fields; ``scored`` maps each stored doc id to (produce time, stored time)."""
        received = self.receiver.snapshot()
        firsts = first_deliveries(received)
        ours = [(at, key, ids) for at, key, ids in firsts.values() if key in self.tickers]
        other = sorted({key for _, key, _ in firsts.values() if key not in self.tickers})
        lat = []
        for at, _, story_ids in ours:
            produced = [scored[i][0] for i in story_ids if i in scored]
            if produced:  # the newest evidence is the document that made the rule fire
                lat.append(at - max(produced))
        return {
            "burst_docs": len(self.tickers) * BURST_SIZE,
            "alerts_expected": len(self.tickers),
            "alerts_delivered": len(ours),
            "bursts_alerted": len({key for _, key, _ in ours}),  # equal to alerts_delivered: one alert per burst
            "alerts_other": len(firsts) - len(ours),
            "alerts_other_keys": other,
            "webhook_requests": len(received),
            "webhook_latency_p50_s": round(statistics.median(lat), 3) if lat else None,
            "webhook_latency_p99_s": round(percentile(lat, 0.99), 3) if lat else None,
            "webhook_latency_max_s": round(max(lat), 3) if lat else None,
            "alert_settings": self.settings(),
        }

    def settings(self) -> dict[str, Any]:
        """What this bench overrode, what the caller's environment set, and the group wait in effect."""
        inherited = {k: v for k, v in os.environ.items() if k.startswith(("FINSENTRY_ALERTS", "FINSENTRY_WEBHOOKS"))}
        overridden = {**self.overrides, "FINSENTRY_ALERTS__RULES": "(the rules below)"}
        return {
            "overridden": overridden,
            "rules": RULES,
            "inherited": inherited,
            "group_wait_s": Settings().alerts.group_wait_s,  # the children's environment differs only above
        }

    def close(self) -> None:
        """Stop the receiver."""
        self.receiver.close()
