"""The real dashboard process in a real browser (Debian's chromium, driven by playwright).

Loads every page of a running ``finsentry dashboard`` on seeded data, waits for its content, checks
it, saves screenshots to ``docs/screenshots/``, and makes a correction that comes out of
``finsentry labels export``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from finsentry.broker import EmbeddedBroker
from finsentry.store.sqlite import SqliteStore
from finsentry.store.sqlite_alerts import SqliteAlertStore
from finsentry.store.sqlitedb import SqliteDatabase
from tests.conftest import free_port
from tests.dashboard.conftest import HOSTILE_TITLE, lively_docs, make_alert, make_doc, seed_docs

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (apt-get install chromium)")


class Dashboard:
    """``finsentry dashboard`` as a child process on a free port."""

    def __init__(self, env: dict[str, str], port: int) -> None:
        self.env, self.port = env, port
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, log: Path, timeout: float = 60) -> None:
        argv = [sys.executable, "-m", "finsentry.app.cli", "dashboard"]
        self.proc = subprocess.Popen(
            argv, env=self.env, stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, log.read_text()
            try:
                if httpx.get(f"{self.url}/_stcore/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise TimeoutError(log.read_text())

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory, broker: EmbeddedBroker) -> Iterator[Dashboard]:
    home = tmp_path_factory.mktemp("dash-home")
    db = SqliteDatabase(home / "docs.db")
    hostile = make_doc(
        900, seed_docs()[-1].event_time, "negative", title=HOSTILE_TITLE, body="<img src=x onerror=alert(1)>"
    )
    SqliteStore(db).upsert([*seed_docs(), *lively_docs(), hostile])
    alerts = SqliteAlertStore(db)
    alerts.put_alert(make_alert("al-bank", "BANK", ["doc000102", "doc000101", "doc000100"], score=9.4))
    alerts.put_alert(make_alert("al-ship", "SHIP", ["doc001003", "doc001011"], state="resolved", severity="medium"))
    db.close()
    port = free_port()
    env = {
        **os.environ,
        "FINSENTRY_HOME": str(home),
        "FINSENTRY_STORE__URL": f"sqlite:///{home}/docs.db",
        "FINSENTRY_KAFKA__BOOTSTRAP": broker.bootstrap,
        "FINSENTRY_DASHBOARD__PORT": str(port),
        "FINSENTRY_DASHBOARD__URL": f"http://127.0.0.1:{port}",
        "FINSENTRY_MODEL__REGISTRY": str(home / "models"),
        "FINSENTRY_DASHBOARD__REFRESH_S": "2",
    }
    dash = Dashboard(env, port)
    try:
        dash.start(home / "dashboard.log")
        yield dash
    finally:
        dash.stop()


@pytest.fixture(scope="module")
def page(running: Dashboard) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser.new_page(viewport={"width": 1400, "height": 1000})
        finally:
            browser.close()


# page url → a text the page shows once its data is in
PAGES = {
    "": "Sentiment index",
    "alerts?id=al-bank": "HIGH · firing · ticker BANK",
    "search?doc=doc000101": "Story doc000100: 3 copies",
    "tickers": "Stories (",
    "feedback?doc=doc000029": "$ACME headline number 29",
    "pipeline": "Published → stored p50",
}


@pytest.mark.parametrize("path", list(PAGES))
def test_page_loads_with_content(running: Dashboard, page: object, path: str) -> None:
    expected = PAGES[path]
    p = page  # playwright Page
    p.goto(f"{running.url}/{path}")  # type: ignore[attr-defined]
    p.wait_for_selector('[data-testid="stSidebarNav"]', timeout=30_000)  # type: ignore[attr-defined]
    shown = f'[data-testid="stMain"] :text("{expected}")'
    if path == "":  # a store without aggregations says so instead of drawing the index
        shown += ', [data-testid="stMain"] :text("not available from this store")'
    p.wait_for_selector(shown, timeout=30_000)  # type: ignore[attr-defined]
    p.wait_for_timeout(1500)  # type: ignore[attr-defined]  # charts draw after their data arrives
    assert p.locator("script:text('alert(\"x\")')").count() == 0  # type: ignore[attr-defined]
    assert p.locator('img[src*="evil"]').count() == 0  # type: ignore[attr-defined]
    SHOTS.mkdir(parents=True, exist_ok=True)
    name = path.split("?")[0] or "overview"
    p.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]


def test_hostile_title_is_shown_as_text(running: Dashboard, page: object) -> None:
    p = page
    p.goto(f"{running.url}/search?doc=doc000900")  # type: ignore[attr-defined]
    p.wait_for_selector('[data-testid="stMain"] :text("Story doc000900")', timeout=30_000)  # type: ignore[attr-defined]
    heading = p.locator('[data-testid="stMarkdownContainer"] h4').first.inner_text()  # type: ignore[attr-defined]
    assert heading.startswith('<script>alert("x")</script> **bold** [click](http://evil.example)')
    assert p.locator('img[src*="evil"]').count() == 0  # type: ignore[attr-defined]


def test_correction_in_the_browser_comes_out_of_export(running: Dashboard, page: object, tmp_path: Path) -> None:
    p = page
    p.goto(f"{running.url}/feedback?doc=doc000028")  # type: ignore[attr-defined]
    p.wait_for_selector('[data-testid="stMain"] :text("headline number 28")', timeout=30_000)  # type: ignore[attr-defined]
    p.locator('.st-key-fb_s_doc000028 [data-testid="stSelectbox"] input').click()  # type: ignore[attr-defined]
    p.get_by_role("option", name="positive").click()  # type: ignore[attr-defined]
    p.get_by_role("button", name="Save correction").click()  # type: ignore[attr-defined]
    p.wait_for_selector(':text("Saved: neutral → positive")', timeout=30_000)  # type: ignore[attr-defined]
    out = tmp_path / "labels.jsonl"
    cmd = [sys.executable, "-m", "finsentry.app.cli", "labels", "export", str(out)]
    subprocess.run(cmd, env=running.env, check=True, capture_output=True, timeout=60)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert {"text": "$ACME headline number 28", "sentiment": "positive", "topic": "Macro"} in rows


def test_chromium_is_the_system_one() -> None:
    assert shutil.which("chromium") == str(CHROMIUM)


def _wait(done: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


def _metric(p: object, label: str) -> str:
    box = p.locator('[data-testid="stMetric"]').filter(has_text=label).first  # type: ignore[attr-defined]
    return str(box.locator('[data-testid="stMetricValue"]').inner_text())


def test_overview_refreshes_live_and_keeps_filters(running: Dashboard, page: object) -> None:
    p = page
    p.goto(running.url)  # type: ignore[attr-defined]
    p.wait_for_selector(':text("Sentiment index"), :text("not available from this store")', timeout=30_000)  # type: ignore[attr-defined]
    if p.locator(':text("not available from this store")').count():  # type: ignore[attr-defined]
        pytest.skip("this store does not aggregate yet")
    every = _metric(p, "Documents")
    box = p.locator(".st-key-ov_ticker input")  # type: ignore[attr-defined]
    box.fill("SHIP")
    box.press("Enter")
    _wait(lambda: _metric(p, "Documents") != every, "the ticker filter to apply")
    before = int(_metric(p, "Documents").replace(",", ""))
    p.evaluate("window.__stillTheSamePage = true")  # type: ignore[attr-defined]
    home = Path(running.env["FINSENTRY_HOME"])
    db = SqliteDatabase(home / "docs.db")
    newest = seed_docs()[29].event_time
    SqliteStore(db).upsert([make_doc(950 + i, newest, "negative", tickers=["SHIP"]) for i in range(3)])
    db.close()
    _wait(lambda: int(_metric(p, "Documents").replace(",", "")) == before + 3, "the overview to refresh by itself")
    assert p.evaluate("window.__stillTheSamePage === true")  # type: ignore[attr-defined]  # no reload
    assert box.input_value() == "SHIP"
