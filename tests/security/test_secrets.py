"""No secret in the repository, in command output or in logs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Shapes of real credentials; placeholders (change-me, ${VAR}) and test fixtures do not match.
PATTERNS = {
    "private key": re.compile(r"-----BEGIN (?:RSA |EC |OPENSSH |DSA )?PRIVATE KEY-----"),
    "AWS access key": re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
    "Slack token": re.compile(r"\bxox[abpr]-[A-Za-z0-9-]{10,}\b"),
    "webhook secret": re.compile(r"\bwhsec_[A-Za-z0-9+/]{24,}={0,2}"),
    "password in a URL": re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s:@${}]{4,}@"),
}


def _tracked_text_files() -> list[Path]:
    names = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    out = []
    for name in names.splitlines():
        path = ROOT / name
        # tests hold throw-away secrets on purpose (signature checks need a secret)
        if name.startswith("tests/") or not path.is_file() or path.stat().st_size > 2_000_000:
            continue
        if path.suffix in {".onnx", ".png", ".pt", ".bin", ".parquet"}:
            continue
        out.append(path)
    return out


def test_no_credentials_in_the_repository() -> None:
    found = []
    for path in _tracked_text_files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        found += [f"{path.relative_to(ROOT)}: {what}" for what, rx in PATTERNS.items() if rx.search(text)]
    assert not found, found


def test_the_scan_finds_what_it_looks_for() -> None:
    samples = {
        "private key": "-----BEGIN RSA PRIVATE KEY-----",
        "AWS access key": "AKIA" + "ABCDEFGHIJKLMNOP",
        "webhook secret": "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "password in a URL": "https://elastic:" + "hunter22@es.example.com:9200",
    }
    for what, sample in samples.items():
        assert PATTERNS[what].search(sample), what


@pytest.mark.parametrize("command", [["status", "--json"], ["settings", "show"], ["stats", "--json"]])
def test_commands_never_print_secrets(tmp_path: Path, command: list[str]) -> None:
    secrets = {
        "FINSENTRY_STORE__PASSWORD": "store-pw-8b1f0e",
        "FINSENTRY_STORE__API_KEY": "api-key-4d9a7c",
        "FINSENTRY_DASHBOARD__PASSWORD": "dash-pw-2c6e11",
    }
    env = {
        **os.environ,
        **secrets,
        "FINSENTRY_HOME": str(tmp_path),
        # an Elasticsearch URL nobody answers: the error path must not leak credentials either
        "FINSENTRY_STORE__URL": "http://127.0.0.1:9/",
        "FINSENTRY_STORE__RETRY_SECONDS": "1",
        "FINSENTRY_STORE__REQUEST_TIMEOUT_S": "1",
        "FINSENTRY_KAFKA__PORT": "9",
        "FINSENTRY_LOG_LEVEL": "DEBUG",
    }
    done = subprocess.run(
        [sys.executable, "-m", "finsentry.app.cli", *command], env=env, capture_output=True, text=True, timeout=120
    )
    output = done.stdout + done.stderr
    assert output.strip(), "the command printed nothing to check"
    for name, value in secrets.items():
        assert value not in output, f"{name} leaked by finsentry {' '.join(command)}"
