from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from finsentry.schemas import FeedHealth, NewsItem
from finsentry.settings import IngestSettings
from finsentry.store.sqlite_feeds import SqliteFeedHealthStore, SqliteSeenItems
from finsentry.store.sqlitedb import SqliteDatabase
from ingest.config import FeedSpec
from ingest.crawler import Crawler
from ingest.fetch import Fetcher
from ingest.producer import JsonLinesSink
from tests.ingest.conftest import FeedServer, Route

SETTINGS = IngestSettings(timeout_s=1.0, connect_timeout_s=1.0, per_host_interval_s=0.0, retries=1, backoff_s=0.01)


class CrashAfterWrite:
    """Fault injection: the sink delivers, then the process 'dies' before the seen-set is written."""

    def __init__(self, inner: JsonLinesSink) -> None:
        self.inner, self.armed = inner, True

    def send(self, items: Sequence[NewsItem]) -> None:
        self.inner.send(items)
        if self.armed:
            self.armed = False
            raise RuntimeError("crashed after producing")

    def close(self) -> None:
        self.inner.close()


def _read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _poll(feeds: list[FeedSpec], tmp: Path, sink: Any = None) -> list[FeedHealth]:
    db = SqliteDatabase(tmp / "state.db")
    sink = sink or JsonLinesSink(tmp / "out.jsonl")

    async def go() -> list[FeedHealth]:
        fetcher = Fetcher(SETTINGS)
        try:
            crawler = Crawler(feeds, fetcher, sink, SqliteFeedHealthStore(db), SqliteSeenItems(db), SETTINGS)
            return await crawler.poll_all()
        finally:
            await fetcher.close()

    try:
        return asyncio.run(go())
    finally:
        sink.close()
        db.close()


def _serve(server: FeedServer, fixture: Callable[[str], bytes]) -> list[FeedSpec]:
    server.routes["/a.xml"] = Route(fixture("rss20.xml"), etag='"a1"')
    server.routes["/b.xml"] = Route(fixture("atom.xml"), content_type="application/atom+xml")
    server.routes["/c.xml"] = Route(fixture("rdf_latin1.xml"), content_type="application/rdf+xml")
    server.routes["/broken.xml"] = Route(fixture("malformed.xml"))
    server.routes["/page"] = Route(fixture("page.html"), content_type="text/html")
    server.routes["/empty.xml"] = Route(fixture("empty.xml"))
    server.routes["/stall.xml"] = Route(fixture("rss20.xml"), stall_s=3.0)
    server.routes["/gone.xml"] = Route(statuses=[410])
    names = ["a", "b", "c", "broken", "page", "empty", "stall", "gone"]
    paths = ["/a.xml", "/b.xml", "/c.xml", "/broken.xml", "/page", "/empty.xml", "/stall.xml", "/gone.xml"]
    return [FeedSpec(name=n, url=server.url(p), interval_s=60) for n, p in zip(names, paths, strict=True)]


def test_good_items_once_bad_feeds_named_and_nobody_waits(
    feed_server: FeedServer, fixture_bytes: Callable[[str], bytes], tmp_path: Path
) -> None:
    feeds = _serve(feed_server, fixture_bytes)
    health = {h.name: h for h in _poll(feeds, tmp_path)}
    finished = time.time()
    items = _read(tmp_path / "out.jsonl")
    assert {h.name for h in health.values() if h.status == "ok"} == {"a", "b", "c", "empty"}
    assert "HTML page" in (health["page"].last_error or "")
    assert "malformed XML" in (health["broken"].last_error or "")
    assert "timed out" in (health["stall"].last_error or "")
    assert "HTTP 410" in (health["gone"].last_error or "")
    assert health["a"].items_seen == 5 and health["a"].etag == '"a1"'
    ids = [i["id"] for i in items]
    assert len(ids) == len(set(ids)) == 5 + 3 + 2 - 1  # Ford appears in feeds a and b: produced once
    # the stalled feed (1 s timeout x 2 attempts) did not hold back the others' items
    produced = [i["fetched_at"] for i in items]
    assert max(produced) < _iso(finished - 1.0)
    for item in items:
        assert "<" not in item["title"] + item["body"]
        assert item["published_at"].endswith("Z") or item["published_at"].endswith("+00:00")
    titles = {i["title"] for i in items}
    assert "Société Générale raises dividend after record quarter" in titles


def _iso(ts: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def test_second_poll_produces_nothing_and_uses_conditional_get(
    feed_server: FeedServer, fixture_bytes: Callable[[str], bytes], tmp_path: Path
) -> None:
    feed_server.routes["/a.xml"] = Route(fixture_bytes("rss20.xml"), etag='"a1"')
    feed_server.routes["/b.xml"] = Route(fixture_bytes("atom.xml"))
    feeds = [FeedSpec(name="a", url=feed_server.url("/a.xml")), FeedSpec(name="b", url=feed_server.url("/b.xml"))]
    _poll(feeds, tmp_path)
    first = len(_read(tmp_path / "out.jsonl"))
    health = {h.name: h for h in _poll(feeds, tmp_path)}
    assert len(_read(tmp_path / "out.jsonl")) == first == 7
    assert health["a"].items_new == 0 and health["b"].items_new == 0 and health["b"].items_seen == 3
    a_hits = [h for h in feed_server.hits if h.path == "/a.xml"]
    assert a_hits[-1].headers.get("If-None-Match") == '"a1"' and feed_server.routes["/a.xml"].hits == 2


def test_crash_between_produce_and_remember_only_duplicates(
    feed_server: FeedServer, fixture_bytes: Callable[[str], bytes], tmp_path: Path
) -> None:
    feed_server.routes["/b.xml"] = Route(fixture_bytes("atom.xml"))
    feeds = [FeedSpec(name="b", url=feed_server.url("/b.xml"))]
    [health] = _poll(feeds, tmp_path, CrashAfterWrite(JsonLinesSink(tmp_path / "out.jsonl")))
    assert health.status == "error" and "crashed after producing" in (health.last_error or "")
    _poll(feeds, tmp_path)
    _poll(feeds, tmp_path)
    ids = [i["id"] for i in _read(tmp_path / "out.jsonl")]
    assert len(ids) == 6 and len(set(ids)) == 3  # each item twice at most, never lost


def test_full_text_fetches_the_article(feed_server: FeedServer, tmp_path: Path) -> None:
    link = feed_server.url("/story")
    feed_server.routes["/f.xml"] = Route(
        f"""<rss version="2.0"><channel><title>t</title><item><title>Nvidia shares jump after results</title>
        <link>{link}</link><description>short</description></item></channel></rss>""".encode()
    )
    feed_server.routes["/story"] = Route(
        b"<html><head><script>var x=1;</script></head><body><nav>Home | Markets</nav>"
        b"<p>Nvidia reported record data-centre revenue on Wednesday, beating estimates.</p>"
        b"<p>Ad</p><p>The chipmaker raised its outlook for the current quarter as demand stays strong.</p>"
        b"</body></html>",
        content_type="text/html; charset=utf-8",
    )
    _poll([FeedSpec(name="f", url=feed_server.url("/f.xml"), full_text=True)], tmp_path)
    [item] = _read(tmp_path / "out.jsonl")
    assert item["body"].startswith("Nvidia reported record data-centre revenue")
    assert "raised its outlook" in item["body"] and "Home" not in item["body"] and "var x" not in item["body"]


def test_health_survives_and_moves_with_the_url(feed_server: FeedServer, tmp_path: Path) -> None:
    feed_server.routes["/down"] = Route(statuses=[500])
    [health] = _poll([FeedSpec(name="x", url=feed_server.url("/down"), interval_s=100)], tmp_path)
    assert health.status == "error" and health.next_poll_at is not None and health.last_poll_at is not None
    assert (health.next_poll_at - health.last_poll_at).total_seconds() == 200  # backed off x2
    stored = SqliteFeedHealthStore(SqliteDatabase(tmp_path / "state.db")).list_health()
    assert [(h.name, h.status, h.last_error) for h in stored] == [("x", "error", health.last_error)]


def test_a_local_json_lines_file_is_a_feed(tmp_path: Path) -> None:
    export = tmp_path / "export.jsonl"
    rows = [{"title": f"Acme item {i}", "url": f"https://news.example.com/{i}", "id": str(i)} for i in range(3)]
    export.write_text("".join(json.dumps(r) + "\n" for r in rows))
    feeds = [FeedSpec(name="export", url=export.as_uri(), kind="jsonl")]
    [first] = _poll(feeds, tmp_path)
    [again] = _poll(feeds, tmp_path)  # unchanged file: answered like a 304, nothing produced twice
    assert (first.status, first.items_new, again.items_seen) == ("ok", 3, 0)
    with export.open("a") as fh:
        fh.write(json.dumps({"title": "Acme item 3", "url": "https://news.example.com/3"}) + "\n")
    later = time.time() + 5
    os.utime(export, (later, later))  # a new modification time, as an appending writer leaves
    [grown] = _poll(feeds, tmp_path)
    assert (grown.items_seen, grown.items_new) == (4, 1)
    assert [i["title"] for i in _read(tmp_path / "out.jsonl")] == [f"Acme item {i}" for i in range(4)]
    export.unlink()
    [gone] = _poll(feeds, tmp_path)
    assert gone.status == "error" and "cannot read" in (gone.last_error or "")


def test_a_local_feed_that_is_no_regular_file_or_too_large_is_named_not_read(tmp_path: Path) -> None:
    big = tmp_path / "big.jsonl"
    big.write_bytes(b'{"title": "x"}\n' * (SETTINGS.max_bytes // 15 + 10))
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)  # reading a pipe nobody writes to would block the crawl forever
    feeds = [
        FeedSpec(name="zero", url="file:///dev/zero", kind="jsonl"),
        FeedSpec(name="pipe", url=fifo.as_uri(), kind="jsonl"),
        FeedSpec(name="big", url=big.as_uri(), kind="jsonl"),
    ]
    health = {h.name: h for h in _poll(feeds, tmp_path)}
    assert "not a regular file" in (health["zero"].last_error or "")
    assert "not a regular file" in (health["pipe"].last_error or "")
    assert "too large" in (health["big"].last_error or "")
    assert _read(tmp_path / "out.jsonl") == []
