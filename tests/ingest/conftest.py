"""A real local HTTP server (a thread) serving feed fixtures and faults for the crawler tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@dataclass
class Route:
    """What one path answers; ``statuses`` are used in turn (the last one repeats)."""

    body: bytes = b""
    content_type: str = "application/rss+xml"
    statuses: list[int] = field(default_factory=lambda: [200])
    headers: dict[str, str] = field(default_factory=dict)
    stall_s: float = 0.0
    etag: str | None = None
    chunked_bytes: int = 0  # stream this many bytes without a Content-Length
    hits: int = 0


@dataclass
class Hit:
    path: str
    headers: dict[str, str]
    at: float


class FeedServer:
    """Serves ``routes``; unknown paths answer 404. Records every request."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: list[Hit] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                return

            def do_GET(self) -> None:
                server.hits.append(Hit(self.path, dict(self.headers), time.monotonic()))
                route = server.routes.get(self.path)
                if route is None:
                    self._send(404, b"not found", "text/plain", {})
                    return
                server._answer(self, route)

            def _send(self, status: int, body: bytes, ctype: str, headers: dict[str, str]) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: object, client_address: object) -> None:
                return  # clients that hang up early (timeouts, size caps) are part of the tests

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.stopping = threading.Event()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def _answer(self, h: BaseHTTPRequestHandler, route: Route) -> None:
        status = route.statuses[min(route.hits, len(route.statuses) - 1)]
        route.hits += 1
        if route.stall_s:
            self.stopping.wait(route.stall_s)
        if route.etag and h.headers.get("If-None-Match") == route.etag:
            h.send_response(304)
            h.send_header("ETag", route.etag)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        headers = dict(route.headers)
        if route.etag:
            headers["ETag"] = route.etag
        if route.chunked_bytes:
            h.send_response(status)
            h.send_header("Content-Type", route.content_type)
            h.send_header("Connection", "close")
            h.end_headers()
            chunk = b"<item><title>x</title></item>" * 1000
            sent = 0
            try:
                while sent < route.chunked_bytes and not self.stopping.is_set():
                    h.wfile.write(chunk)
                    sent += len(chunk)
            except OSError:
                pass
            h.close_connection = True
            return
        h._send(status, route.body, route.content_type, headers)  # type: ignore[attr-defined]

    def stop(self) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    server = FeedServer()
    yield server
    server.stop()


@pytest.fixture
def fixture_bytes() -> Callable[[str], bytes]:
    return lambda name: (FIXTURES / name).read_bytes()
