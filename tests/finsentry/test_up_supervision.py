"""`finsentry up` when things go wrong, with real processes: a SIGKILLed supervisor, a stale broker
of the home, Ctrl-C during start-up, two installations on one machine, commands with no broker."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from finsentry.app.rundir import RunDir
from finsentry.broker import port_open, stop_stale_broker
from finsentry.proc import die_with_parent
from tests.conftest import free_port
from tests.stream.conftest import wait_until

CLI = [sys.executable, "-m", "finsentry.app.cli"]
DEMO_DOCS = 443


class Up:
    """One `finsentry up` on its own home and port, its output in a log file."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.port = free_port()
        self.log = home.parent / f"{home.name}.log"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("FINSENTRY_")},
            "FINSENTRY_HOME": str(home),
            "FINSENTRY_KAFKA__PORT": str(self.port),
            "FINSENTRY_DASHBOARD__PORT": str(free_port()),  # two installations on one machine: own ports
            "FINSENTRY_MODEL__CLASSIFIER_URL": "baseline://",
            "FINSENTRY_STATUS_EVERY": "1",
            "FINSENTRY_WORKER__BATCH_WITHIN": "0.2",
            "PYTHONUNBUFFERED": "1",
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, *args: str) -> None:
        self.log.write_text("")  # each start's output alone
        self.proc = subprocess.Popen(
            [*CLI, "up", *args],
            env=self.env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,  # a failed test leaves no supervisor behind
        )

    def text(self) -> str:
        return self.log.read_text()

    def wait_for(self, marker: str, timeout: float = 60) -> None:
        wait_until(lambda: marker in self.text(), timeout, f"{marker!r} in the log:\n{self.text()[-3000:]}")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        return self.proc.wait(60)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*CLI, *args], env=self.env, capture_output=True, text=True, timeout=60)

    def doc_ids(self) -> set[str]:
        if not (self.home / "finsentry.db").exists():
            return set()
        return {d["id"] for d in json.loads(self.cli("search", "--json", "--limit", "1000").stdout)}

    def processes(self) -> list[int]:
        """Live pids whose environment names this home (every process of this run inherits it)."""
        marker = f"FINSENTRY_HOME={self.home}\0".encode()
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and int(entry.name) != os.getpid():
                try:
                    if marker in (entry / "environ").read_bytes() and "Z" not in _state(entry):
                        found.append(int(entry.name))
                except OSError:
                    continue
        return found

    def wait_gone(self, timeout: float) -> None:
        """Until no process of this run is left; the survivors' commands in the failure."""
        deadline = time.monotonic() + timeout
        while (left := self.processes()) and time.monotonic() < deadline:
            time.sleep(0.1)
        names = [Path(f"/proc/{p}/cmdline").read_bytes().replace(b"\0", b" ")[:120] for p in left]
        assert not left, f"still running after {timeout:.0f}s: {names}"

    def cleanup(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        RunDir(self.home / "run").stop_leftovers(grace=2)
        stop_stale_broker(self.home / "broker", grace=2)


def _state(proc_dir: Path) -> str:
    stat = (proc_dir / "stat").read_text()
    return stat[stat.rindex(")") + 2]


def _live_groups() -> set[int]:
    """Process groups with a live (not zombie) member."""
    groups = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            if fields[0] != "Z":
                groups.add(int(fields[2]))
    return groups


@pytest.fixture
def make_up(tmp_path: Path) -> Iterator[type[Up]]:
    made: list[Up] = []

    class Tracked(Up):
        def __init__(self, home: Path) -> None:
            super().__init__(home)
            made.append(self)

    yield Tracked
    for up in made:
        up.cleanup()


def test_sigkilled_supervisor_leaves_nothing_and_the_next_start_keeps_every_document(
    make_up: type[Up], tmp_path: Path
) -> None:
    up = make_up(tmp_path / "home")
    up.start("--demo", "--demo-rate", "1000")
    up.wait_for(f"scored {DEMO_DOCS} | lag 0", 90)
    wait_until(lambda: len(up.doc_ids()) == DEMO_DOCS, 30, "the demo documents stored")
    parts = RunDir(up.home / "run").recorded()
    assert {p.name for p in parts} >= {"broker", "worker-1"}
    stored = up.doc_ids()

    assert up.proc is not None
    up.proc.kill()  # SIGKILL: no handler runs, nothing is stopped by the supervisor itself
    up.proc.wait()
    killed_at = time.monotonic()
    up.wait_gone(5)
    assert time.monotonic() - killed_at < 5
    assert not {p.pid for p in parts} & _live_groups()
    assert not port_open(up.port)

    up.start()
    up.wait_for("pipeline up")
    assert up.doc_ids() >= stored
    assert up.stop() == 0
    text = up.text()
    assert "broker ready" in text and "exited with" not in text and "already running" not in text
    assert up.doc_ids() == stored
    assert RunDir(up.home / "run").recorded() == []


def test_stale_broker_is_stopped_then_ctrl_c_during_start_up_exits_130(make_up: type[Up], tmp_path: Path) -> None:
    up = make_up(tmp_path / "home")
    # A broker of this home whose supervisor died: started through noida-db's launcher, as
    # earlier versions did, in a session of its own.
    launcher = Path(sys.executable).parent / "noida-db"
    data = up.home / "broker"
    argv = [str(launcher), "start", "--data-dir", str(data), "--only", "kafka", "--kafka-port", str(up.port)]
    subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    wait_until(lambda: port_open(up.port), 20, "the stale broker")

    up.start()
    up.wait_for("broker ready")  # the worker is still starting
    assert up.stop(signal.SIGINT) == 130
    text = up.text()
    assert f"stopped a broker left running on {data}" in text
    assert "start-up interrupted (SIGINT)" in text and "not ready within" not in text
    up.wait_gone(5)
    assert not port_open(up.port)


def test_two_homes_on_one_machine_share_nothing(make_up: type[Up], tmp_path: Path) -> None:
    a, b = make_up(tmp_path / "a"), make_up(tmp_path / "b")
    a.start("--demo", "--demo-rate", "1000")
    b.start("--demo", "--demo-rate", "1000")
    for up in (a, b):
        up.wait_for(f"scored {DEMO_DOCS} | lag 0", 120)
        up.wait_for("pipeline up", 120)  # every part started: the process set is complete
    wait_until(lambda: len(a.doc_ids()) == len(b.doc_ids()) == DEMO_DOCS, 30, "both demos stored")
    pids_a, pids_b = set(a.processes()), set(b.processes())
    assert pids_a and pids_b and not pids_a & pids_b
    for up in (a, b):  # every runtime file lies under its own home
        assert {p.name for p in up.home.iterdir()} >= {"broker", "run", "finsentry.db", "faust"}
    assert a.stop() == 0
    a.wait_gone(10)
    assert set(b.processes()) == pids_b  # b lost nothing
    status = json.loads(b.cli("status", "--json").stdout)
    assert status["broker"] == "up" and status["kafka"]["records"]["news.raw"] == DEMO_DOCS
    assert b.stop() == 0


def test_status_and_stats_without_a_broker_answer_at_once(tmp_path: Path) -> None:
    up = Up(tmp_path / "home")
    for command in (["status"], ["stats", "--json"]):
        started = time.monotonic()
        done = up.cli(*command)
        assert time.monotonic() - started < 2, command
        assert done.returncode == 0, done.stderr
        broker_lines = [line for line in done.stderr.splitlines() if "broker" in line]
        assert broker_lines == [
            f"finsentry: the broker is down (no Kafka broker answers at 127.0.0.1:{up.port}); "
            "start the pipeline with `finsentry up`"
        ], done.stderr
        assert "kafka." not in done.stderr  # no client-library log lines
    assert json.loads(done.stdout)["kafka_error"]


def test_unknown_variable_stops_the_command(tmp_path: Path) -> None:
    up = Up(tmp_path / "home")
    up.env["FINSENTRY_STORE_URL"] = "http://127.0.0.1:9200"
    done = up.cli("status")
    assert done.returncode == 2
    assert "FINSENTRY_STORE_URL names no setting; did you mean FINSENTRY_STORE__URL?" in done.stderr
    assert not up.home.exists()  # refused before anything ran
