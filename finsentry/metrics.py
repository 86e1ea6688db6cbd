"""Prometheus metrics and a health endpoint, shared by every long-running process.

Metric objects live here, in the core, so that each part increments its own counters without
importing another part; the composition root starts one ``MetricsServer`` per process.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

log = logging.getLogger(__name__)

DOCS_IN = Counter("finsentry_docs_in_total", "Records taken from news.raw by workers")
DOCS_STORED = Counter("finsentry_docs_stored_total", "Scored documents acknowledged by the store")
DEAD_LETTERS = Counter("finsentry_dead_letters_total", "Records turned into dead letters", ["stage"])
BATCH_SECONDS = Histogram(
    "finsentry_batch_seconds", "Worker batch time, parse to ack", buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30)
)
MODEL_SECONDS = Histogram(
    "finsentry_model_seconds", "Classifier call time per batch", buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10)
)
MODEL_VERSION = Gauge("finsentry_model_version_info", "1 for the model version that scored last", ["version"])
STORE_WRITE_SECONDS = Histogram(
    "finsentry_store_write_seconds", "Store upsert time per batch", buckets=(0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 5)
)
CONSUMER_LAG = Gauge("finsentry_consumer_lag", "Records of news.raw not yet committed by the workers")
CRAWLER_POLLS = Counter("finsentry_crawler_polls_total", "Feed polls by outcome", ["feed", "outcome"])
CRAWLER_ITEMS = Counter("finsentry_crawler_items_total", "New items produced to news.raw", ["feed"])
ALERTS_FIRED = Counter("finsentry_alerts_fired_total", "Alerts that started firing", ["rule", "severity"])
DELIVERIES = Counter("finsentry_webhook_deliveries_total", "Webhook attempts by outcome", ["outcome"])


class MetricsServer:
    """``/metrics`` (Prometheus text format) and ``/healthz`` on one small HTTP server thread.

    Args:
        address: interface to bind (``127.0.0.1`` on one machine, ``0.0.0.0`` in a container).
        port: 0 picks a free port; ``port`` holds the bound one after ``start``.
        health: called for ``/healthz``; True answers 200, False 503.

    """

    def __init__(self, address: str, port: int, health: Callable[[], bool] | None = None) -> None:
        self.address, self.port = address, port
        self._health = health or (lambda: True)
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> int:
        """Serve in a daemon thread; return the bound port."""
        health = self._health

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.startswith("/metrics"):
                    self._send(200, generate_latest(), CONTENT_TYPE_LATEST)
                elif self.path.startswith("/healthz"):
                    ok = _safe(health)
                    self._send(200 if ok else 503, b"ok\n" if ok else b"unhealthy\n", "text/plain")
                else:
                    self._send(404, b"not found\n", "text/plain")

            def _send(self, code: int, body: bytes, ctype: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: object) -> None:  # scrapes every few seconds are not news
                return

        self._server = ThreadingHTTPServer((self.address, self.port), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        threading.Thread(target=self._server.serve_forever, name="metrics", daemon=True).start()
        log.info("metrics on http://%s:%d/metrics, health on /healthz", self.address, self.port)
        return self.port

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def _safe(check: Callable[[], bool]) -> bool:
    try:
        return bool(check())
    except Exception:  # noqa: BLE001 - a failing check is an unhealthy answer, not a crash
        return False
