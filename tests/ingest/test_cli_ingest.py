from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.ingest.conftest import FeedServer, Route


def _cli(tmp: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {**os.environ, "FINSENTRY_HOME": str(tmp), "FINSENTRY_STORE__URL": f"sqlite:///{tmp}/docs.db"}
    return subprocess.run(
        [sys.executable, "-m", "finsentry.app.cli", *args],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_bad_feeds_file_stops_with_file_entry_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "feeds.yaml"
    bad.write_text("feeds:\n  - name: ok\n    url: http://a.example/rss\n  - name: wire-b\n    url: not-a-url\n")
    out = _cli(tmp_path, "ingest", "once", "--feeds", str(bad))
    assert out.returncode == 1
    assert f"{bad}: feeds[1] ('wire-b'): url" in out.stderr
    missing = _cli(tmp_path, "ingest", "once")
    assert missing.returncode == 1 and "FINSENTRY_INGEST__FEEDS" in missing.stderr


def test_once_to_a_file_then_status(
    tmp_path: Path, feed_server: FeedServer, fixture_bytes: Callable[[str], bytes]
) -> None:
    feed_server.routes["/b.xml"] = Route(fixture_bytes("atom.xml"))
    feed_server.routes["/page"] = Route(fixture_bytes("page.html"), content_type="text/html")
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(
        f"feeds:\n  - name: wire-b\n    url: {feed_server.url('/b.xml')}\n"
        f"  - name: homepage\n    url: {feed_server.url('/page')}\n"
    )
    out_file = tmp_path / "items.jsonl"
    once = _cli(tmp_path, "ingest", "once", "--feeds", str(feeds), "--out", str(out_file))
    assert once.returncode == 0, once.stderr
    summary = json.loads(once.stdout)
    assert summary["items_new"] == 3 and set(summary["errors"]) == {"homepage"}
    assert len(out_file.read_text().splitlines()) == 3
    status = _cli(tmp_path, "ingest", "status", "--json", FINSENTRY_INGEST__FEEDS=str(feeds))
    rows = {r["name"]: r for r in json.loads(status.stdout)}
    assert rows["wire-b"]["status"] == "ok" and rows["wire-b"]["items_new"] == 3
    assert rows["homepage"]["status"] == "error" and "HTML page" in rows["homepage"]["last_error"]
    text = _cli(tmp_path, "ingest", "status", FINSENTRY_INGEST__FEEDS=str(feeds)).stdout
    assert "homepage" in text and "HTML page" in text
