"""Every docker-compose service's command, run as a local process with the compose environment.

The same code with different settings: Kafka is the embedded broker, Elasticsearch is the
noida-db Elasticsearch API, Triton is replaced by the in-process baseline scorer (no GPU here),
and paths point into a temporary folder. One-shot jobs must succeed; long-running services must
answer their health check; and one crawled story must go end to end into the store.
"""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from finsentry.app.factory import make_store
from finsentry.broker import EmbeddedBroker, ensure_topics
from finsentry.protocols import SearchQuery
from finsentry.settings import Settings, StoreSettings
from tests.conftest import EmbeddedSearch, free_port, skip_backlog
from tests.deploy.test_compose import COMPOSE, interpolate
from tests.stream.conftest import wait_until

RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Local wire</title><link>http://127.0.0.1/</link><description>t</description>
<item><title>Acme Corp shares slump after {nonce} profit warning</title>
<link>http://127.0.0.1/news/{nonce}</link><pubDate>Sun, 29 Nov 2026 10:00:00 GMT</pubDate>
<description>Acme Corp said quarterly profit would miss forecasts.</description></item>
</channel></rss>
"""


@pytest.fixture
def feed_server(tmp_path: Path) -> Iterator[tuple[str, str]]:
    nonce = uuid.uuid4().hex[:10]
    body = RSS.format(nonce=nonce).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.startswith("/robots.txt"):
                self.send_response(404)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/rss", nonce
    server.shutdown()


def _local_env(
    svc: dict[str, Any], broker: EmbeddedBroker, search: EmbeddedSearch, tmp: Path, prefix: str
) -> dict[str, str]:
    env = {k: interpolate(str(v)) for k, v in svc.get("environment", {}).items()}
    env.update(
        {
            "FINSENTRY_HOME": str(tmp / "home"),
            "FINSENTRY_KAFKA__BOOTSTRAP": broker.bootstrap,
            "FINSENTRY_STORE__URL": search.url,
            "FINSENTRY_STORE__INDEX_PREFIX": prefix,
            "FINSENTRY_MODEL__CLASSIFIER_URL": "baseline://",
            "FINSENTRY_MODEL__REGISTRY": str(tmp / "models"),
            "FINSENTRY_METRICS__ADDRESS": "127.0.0.1",
            "FINSENTRY_METRICS__PORT": str(free_port()),
            "FINSENTRY_DASHBOARD__ADDRESS": "127.0.0.1",
            "FINSENTRY_DASHBOARD__PORT": str(free_port()),
            "FINSENTRY_KAFKA__GROUP": f"compose-{prefix}",
        }
    )
    if "FINSENTRY_INGEST__FEEDS" in env:
        env["FINSENTRY_INGEST__FEEDS"] = str(tmp / "feeds.yaml")
    return {**os.environ, **env, "PYTHONUNBUFFERED": "1", "HF_HUB_OFFLINE": "1"}


def _argv(svc: dict[str, Any], tmp: Path) -> list[str]:
    return [sys.executable, "-m", "finsentry.app.cli"] + [
        str(tmp / "triton") if part == "/models" else part for part in svc["command"]
    ]


def _healthy(env: dict[str, str], name: str) -> bool:
    if name == "dashboard":
        url = f"http://127.0.0.1:{env['FINSENTRY_DASHBOARD__PORT']}/_stcore/health"
    else:
        url = f"http://127.0.0.1:{env['FINSENTRY_METRICS__PORT']}/healthz"
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _up_check(proc: subprocess.Popen[bytes], env: dict[str, str], name: str) -> Callable[[], bool]:
    return lambda: proc.poll() is None and _healthy(env, name)


def test_every_compose_service_runs_locally_and_a_crawled_story_is_stored(
    broker: EmbeddedBroker, search_server: EmbeddedSearch, feed_server: tuple[str, str], tmp_path: Path
) -> None:
    services: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())["services"]
    ours = {name: svc for name, svc in services.items() if "build" in svc}
    prefix = "c" + uuid.uuid4().hex[:10]
    feed_url, nonce = feed_server
    (tmp_path / "feeds.yaml").write_text(f"feeds:\n  - name: local-wire\n    url: {feed_url}\n    interval_s: 5\n")
    (tmp_path / "home").mkdir()
    ensure_topics(broker.bootstrap, 4)
    skip_backlog(broker.bootstrap, f"compose-{prefix}")
    one_shot = [n for n, s in ours.items() if s.get("restart") == "no"]
    running = [n for n in ours if n not in one_shot]
    for name in ["topics", "index-init", "model-export"]:  # compose's dependency order
        env = _local_env(ours[name], broker, search_server, tmp_path, prefix)
        done = subprocess.run(_argv(ours[name], tmp_path), env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"{name}: {done.stdout[-2000:]}{done.stderr[-2000:]}"
    procs: dict[str, tuple[subprocess.Popen[bytes], dict[str, str]]] = {}
    try:
        for name in running:
            env = _local_env(ours[name], broker, search_server, tmp_path, prefix)
            log = (tmp_path / f"{name}.log").open("wb")
            procs[name] = (subprocess.Popen(_argv(ours[name], tmp_path), env=env, stdout=log, stderr=log), env)
        for name, (proc, env) in procs.items():
            wait_until(_up_check(proc, env, name), 120, f"{name} healthy")
        store = make_store(Settings(store=StoreSettings(url=search_server.url, index_prefix=prefix)))
        wait_until(lambda: bool(store.search(SearchQuery(text=nonce))), 120, "the crawled story in the store")
        doc = store.search(SearchQuery(text=nonce))[0]
        assert doc.source == "local-wire" and doc.story_id and doc.model_version
    finally:
        for proc, _ in procs.values():
            proc.terminate()
        for proc, _ in procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
    for name in [n for n in one_shot if n not in ("topics", "index-init", "model-export")]:
        env = _local_env(ours[name], broker, search_server, tmp_path, prefix)
        done = subprocess.run(_argv(ours[name], tmp_path), env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"{name}: {done.stdout[-2000:]}{done.stderr[-2000:]}"
