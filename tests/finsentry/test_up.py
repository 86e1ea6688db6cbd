"""`finsentry up --demo` as a user runs it: documents appear, Ctrl-C leaves nothing, data survives."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import free_port
from tests.stream.conftest import wait_until


def _our_processes(marker: str) -> list[int]:
    """Pids whose environment names our unique home folder (children inherit it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker.encode() in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def _search(env: dict[str, str]) -> list[dict[str, object]]:
    out = subprocess.run(
        [sys.executable, "-m", "finsentry.app.cli", "search", "--json", "--limit", "1000"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return list(json.loads(out.stdout))


def _stored_by_metrics(log: Path) -> float:
    """The worker's own count of stored documents, read from the metrics URL its log line names."""
    import httpx

    line = next(ln for ln in log.read_text().splitlines() if ln.startswith("worker-1") and "metrics on http" in ln)
    url = re.search(r"http://\S+/metrics", line)
    assert url is not None
    text = httpx.get(url.group(0), timeout=5).text
    return float(next(ln for ln in text.splitlines() if ln.startswith("finsentry_docs_stored_total ")).split()[1])


def _up(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "finsentry.app.cli", "up", "--demo", "--demo-rate", "200"],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def test_up_demo_then_ctrl_c_then_restart_keeps_documents(tmp_path: Path) -> None:
    home = tmp_path / "fs-home"
    dash = free_port()
    env = {
        **os.environ,
        "FINSENTRY_HOME": str(home),
        "FINSENTRY_KAFKA__PORT": str(free_port()),
        "FINSENTRY_STORE__URL": f"sqlite:///{home}/docs.db",
        "FINSENTRY_STATUS_EVERY": "1",
        "FINSENTRY_MODEL__REGISTRY": str(tmp_path / "models"),
        "PYTHONUNBUFFERED": "1",
        "FINSENTRY_DASHBOARD__PORT": str(dash),
        "FINSENTRY_DASHBOARD__URL": f"http://127.0.0.1:{dash}",
    }
    log = tmp_path / "up.log"
    try:
        _run_twice(env, log, home, dash)
    finally:  # a failed assertion must not leave a pipeline running
        for pid in _our_processes(str(home)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _run_twice(env: dict[str, str], log: Path, home: Path, dash: int) -> None:
    proc = _up(env, log)
    wait_until(lambda: home.joinpath("docs.db").exists() and len(_search(env)) == 443, 180, "all demo documents")
    docs = _search(env)
    assert {"sentiment", "topic", "model_version"} <= set(docs[0])
    status = json.loads(
        subprocess.run(
            [sys.executable, "-m", "finsentry.app.cli", "status", "--json"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert status["broker"] == "up" and status["current_model"] == docs[0]["model_version"]
    assert status["kafka"]["records"]["news.raw"] >= 400
    assert _stored_by_metrics(log) >= 443  # the worker's /metrics counts what it stored
    proc.send_signal(signal.SIGINT)
    assert proc.wait(60) == 0
    wait_until(lambda: not _our_processes(str(home)), 10, "every child process to exit")
    text = log.read_text()
    # the status line prints when counts change: its first line carries the totals
    expected = ("broker ready", "worker-1 ready", "status    | raw ", "worker-1 stopped", "broker stopped")
    for part in (*expected, "dashboard ready", f"| dashboard http://127.0.0.1:{dash}", "dashboard stopped"):
        assert part in text, part
    before = {d["id"] for d in docs}

    proc = _up(env, log)  # the same demo feed again: ids are deterministic, nothing duplicates
    wait_until(lambda: "pipeline up" in log.read_text().split("broker stopped")[-1], 60, "second start")
    time.sleep(3)
    assert before <= {d["id"] for d in _search(env)}
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 0
    wait_until(lambda: not _our_processes(str(home)), 10, "every child process to exit")
    assert len(_search(env)) == len(before) == 443
