from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from alerts.rules import RuleError
from alerts.webhooks import RefusedDestination, parse_secret
from finsentry.app.cli import app
from finsentry.schemas import Alert, ScoredDoc
from finsentry.store.sqlite import SqliteStore
from finsentry.store.sqlite_alerts import SqliteAlertStore
from finsentry.store.sqlitedb import SqliteDatabase
from tests.alerts.conftest import T0


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., object]:
    monkeypatch.setenv("FINSENTRY_HOME", str(tmp_path))
    monkeypatch.setenv("FINSENTRY_STORE__URL", f"sqlite:///{tmp_path}/cli.db")
    monkeypatch.setenv("FINSENTRY_WEBHOOKS__ALLOW_NETWORKS", '["127.0.0.1/32"]')

    def invoke(*args: str) -> object:
        result = CliRunner().invoke(app, list(args))
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout) if "--json" in args or args[:2] in _JSON_COMMANDS else result.stdout

    return invoke


_JSON_COMMANDS = {("subscribers", "add"), ("subscribers", "remove"), ("subscribers", "rotate-secret")}


def test_subscribers_add_list_rotate_remove(cli: Callable[..., object]) -> None:
    added = cli("subscribers", "add", "http://127.0.0.1:9/hook", "--ticker", "$acme", "--min-severity", "high")
    assert isinstance(added, dict)
    parse_secret(added["secret"])  # generated and printed once
    listed = cli("subscribers", "list", "--json")
    assert isinstance(listed, list) and listed[0]["tickers"] == ["ACME"] and listed[0]["secrets"] == 1
    assert "whsec_" not in json.dumps(listed)
    rotated = cli("subscribers", "rotate-secret", added["id"], "--overlap-hours", "2")
    assert isinstance(rotated, dict) and rotated["secret"] != added["secret"]
    listed = cli("subscribers", "list", "--json")
    assert isinstance(listed, list)
    (after,) = listed
    assert after["secrets"] == 2 and after["previous_until"]
    cli("subscribers", "remove", added["id"])
    assert cli("subscribers", "list", "--json") == []


def test_subscribers_add_refuses_inside_addresses_and_bad_secrets(cli: Callable[..., object]) -> None:
    with pytest.raises(RefusedDestination):
        cli("subscribers", "add", "http://169.254.169.254/latest")
    with pytest.raises(Exception, match="whsec_"):
        cli("subscribers", "add", "http://127.0.0.1:9/hook", "--secret", "hunter2")


def test_alerts_list_and_backtest(
    cli: Callable[..., object], tmp_path: Path, make_doc: Callable[..., ScoredDoc]
) -> None:
    db = SqliteDatabase(tmp_path / "cli.db")
    SqliteStore(db).upsert([make_doc(T0 + timedelta(seconds=i)) for i in range(7)])
    rules = tmp_path / "r.yaml"
    rules.write_text("rules:\n  - {name: t, window_s: 300, baseline_windows: 4, min_stories: 5, z: 2}\n")
    since, until = (T0 - timedelta(hours=1)).isoformat(), (T0 + timedelta(hours=1)).isoformat()
    found = cli("alerts", "backtest", "--rules", str(rules), "--since", since, "--until", until, "--json")
    assert isinstance(found, list) and [(a["key"], a["count"]) for a in found] == [("ACME", 7)]
    assert cli("alerts", "list", "--json") == []
    SqliteAlertStore(db).put_alert(Alert.model_validate(found[0]))  # a backtest's alert, stored
    resolved = cli("alerts", "list", "--state", "resolved", "--json")
    assert isinstance(resolved, list) and [a["id"] for a in resolved] == [found[0]["id"]]
    assert cli("alerts", "list", "--state", "firing", "--json") == []
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - {name: t, window_s: -1}\n")
    with pytest.raises(RuleError, match=r"bad.yaml: rule 1 \('t'\): field 'window_s'"):
        cli("alerts", "backtest", "--rules", str(bad), "--since", since, "--until", until)
