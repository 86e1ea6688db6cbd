"""A real local HTTP webhook receiver that verifies every request with the ``standardwebhooks`` package."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    verified: dict[str, bool]  # secret -> did a signature made with it verify
    at: float
    status: int = 200  # what the receiver answered


@dataclass
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    hang_s: float = 0.0


class Receiver:
    """Answers scripted responses in order (then ``default``); records and verifies each request."""

    def __init__(self, host: str = "127.0.0.1", secrets: list[str] | None = None) -> None:
        self.script: list[Answer] = []
        self.default = Answer()
        self.secrets = list(secrets or [])
        self.received: list[Received] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                answer = receiver._next()
                receiver._record(dict(self.headers.items()), body, answer.status)
                if answer.hang_s:
                    time.sleep(answer.hang_s)
                self.send_response(answer.status)
                for k, v in answer.headers.items():
                    self.send_header(k, v)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/hooks"

    def _record(self, headers: dict[str, str], body: bytes, status: int) -> None:
        verified = {}
        for secret in self.secrets:
            try:
                Webhook(secret).verify(body, headers)
                verified[secret] = True
            except Exception:  # noqa: BLE001 - any failure is "does not verify"
                verified[secret] = False
        with self._lock:
            self.received.append(Received(headers, body, verified, time.monotonic(), status))

    def _next(self) -> Answer:
        with self._lock:
            return self.script.pop(0) if self.script else self.default

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
