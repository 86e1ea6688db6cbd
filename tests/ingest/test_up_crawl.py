"""`finsentry up` with a feeds file: real broker, worker and crawler against a local feed server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port
from tests.finsentry.test_up import _our_processes
from tests.ingest.conftest import FeedServer, Route
from tests.stream.conftest import wait_until


def _cli(env: dict[str, str], *args: str) -> Any:
    out = subprocess.run(
        [sys.executable, "-m", "finsentry.app.cli", *args], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def _up(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "finsentry.app.cli", "up"], env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT
    )


def _stop(proc: subprocess.Popen[bytes], home: Path, log: Path) -> None:
    proc.send_signal(signal.SIGINT)
    assert proc.wait(60) == 0, log.read_text()[-3000:]
    wait_until(lambda: not _our_processes(str(home)), 15, "every child process to exit")


@pytest.mark.timeout(400)
def test_up_crawls_feeds_groups_stories_and_restarts_cleanly(
    tmp_path: Path, feed_server: FeedServer, fixture_bytes: Callable[[str], bytes]
) -> None:
    served = {
        "wire-a": ("/a.xml", Route(fixture_bytes("rss20.xml"))),
        "wire-b": ("/b.xml", Route(fixture_bytes("atom.xml"), content_type="application/atom+xml")),
        "wire-c": ("/c.xml", Route(fixture_bytes("rdf_latin1.xml"), content_type="application/rdf+xml")),
        "broken": ("/broken.xml", Route(fixture_bytes("malformed.xml"))),
        "homepage": ("/index.html", Route(fixture_bytes("page.html"), content_type="text/html")),
        "quiet": ("/empty.xml", Route(fixture_bytes("empty.xml"))),
    }
    lines = ["feeds:"]
    for name, (path, route) in served.items():
        feed_server.routes[path] = route
        lines += [f"  - name: {name}", f"    url: {feed_server.url(path)}", "    interval_s: 600"]
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text("\n".join(lines) + "\n")
    home = tmp_path / "fs-home"
    env = {
        **os.environ,
        "FINSENTRY_HOME": str(home),
        "FINSENTRY_KAFKA__PORT": str(free_port()),
        "FINSENTRY_STORE__URL": f"sqlite:///{home}/docs.db",
        "FINSENTRY_MODEL__CLASSIFIER_URL": "baseline://",
        "FINSENTRY_INGEST__FEEDS": str(feeds),
        "FINSENTRY_INGEST__TIMEOUT_S": "3",
        "FINSENTRY_INGEST__RETRIES": "0",
        "FINSENTRY_INGEST__PER_HOST_INTERVAL_S": "0",
        "FINSENTRY_STATUS_EVERY": "2",
        "PYTHONUNBUFFERED": "1",
    }
    log = tmp_path / "up.log"
    proc = _up(env, log)
    try:
        search = ("search", "--json", "--limit", "100")
        wait_until(lambda: home.joinpath("docs.db").exists() and len(_cli(env, *search)) >= 9, 150, "crawled documents")
        docs = {d["title"]: d for d in _cli(env, *search)}
        assert len(docs) == 9  # 5 + 3 + 2 items, the Ford story listed by two feeds stored once
        apple = docs["UPDATE 1-Apple beats quarterly revenue estimates on strong iPhone demand"]
        apple_copy = docs["Apple beats quarterly revenue estimates on strong iPhone demand - Reuters"]
        assert apple_copy["story_id"] == apple["story_id"] == apple["id"]  # the earlier copy names the story
        tesla = docs["Tesla shares fall 4% after delivery miss"]
        assert docs["BRIEF-Tesla shares fall 4% after delivery miss"]["story_id"] == tesla["story_id"] == tesla["id"]
        assert len({d["story_id"] for d in docs.values()}) == 7
        assert "Société Générale raises dividend after record quarter" in docs
        for d in docs.values():
            assert d["story_id"] and "<" not in d["title"] + d["body"] and "alert(" not in d["title"] + d["body"]
            assert d["published_at"].endswith("Z") and d["fetched_at"].endswith("Z")
        assert apple["tickers"] == ["AAPL"] and apple["lang"] == "en"

        status = {h["name"]: h for h in _cli(env, "ingest", "status", "--json")}
        bad = {n: h["last_error"] for n, h in status.items() if h["status"] == "error"}
        assert set(bad) == {"broken", "homepage"}
        assert "malformed XML" in bad["broken"] and "HTML page" in bad["homepage"]
        # the Ford story is listed by wire-a and wire-b: whichever is polled first produces it
        assert status["wire-a"]["items_new"] + status["wire-b"]["items_new"] == 7 and status["quiet"]["status"] == "ok"
        assert status["wire-a"]["items_seen"] == 5 and status["wire-b"]["items_seen"] == 3
        first_poll = status["wire-a"]["last_poll_at"]
    finally:
        _stop(proc, home, log)

    proc = _up(env, log)  # restart: every feed is polled again at once, nothing is new
    try:
        wait_until(
            lambda: (
                _cli(env, "ingest", "status", "--json")[-1]["last_poll_at"] != first_poll
                and all(h["last_poll_at"] != first_poll for h in _cli(env, "ingest", "status", "--json"))
            ),
            90,
            "second poll of every feed",
        )
        status = {h["name"]: h for h in _cli(env, "ingest", "status", "--json")}
        assert all(h["items_new"] == 0 for h in status.values())
        assert len(_cli(env, "search", "--json", "--limit", "100")) == 9
    finally:
        _stop(proc, home, log)
    text = log.read_text()
    assert "crawler ready" in text and "crawler stopped" in text
