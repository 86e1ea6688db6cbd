"""Beyond localhost, nobody sees data before logging in; with no login configured it refuses."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pydantic import SecretStr

from dashboard.auth import is_local, login_mode, password_ok
from dashboard.backends import Backends
from finsentry.app.cli_dashboard import streamlit_argv
from finsentry.errors import ConfigError
from finsentry.settings import DashboardSettings, Settings
from tests.dashboard.apptest import metrics, run_page, texts
from tests.dashboard.conftest import seed_docs

EXPOSED = DashboardSettings(address="0.0.0.0", password=SecretStr("s3cret pass"), refresh_s=3600)


@pytest.mark.parametrize(
    ("address", "local"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("10.0.0.5", False),
        ("example.org", False),
    ],
)
def test_is_local(address: str, local: bool) -> None:
    assert is_local(address) is local


def test_login_modes() -> None:
    assert login_mode(DashboardSettings()) == "none"
    assert login_mode(EXPOSED) == "password"
    assert login_mode(EXPOSED.model_copy(update={"oidc": True})) == "oidc"
    assert login_mode(DashboardSettings(address="0.0.0.0")) == "refuse"
    assert login_mode(DashboardSettings(address="0.0.0.0", password=SecretStr(""))) == "refuse"
    assert password_ok("s3cret pass", EXPOSED)
    assert not password_ok("s3cret pas", EXPOSED)
    assert not password_ok("s3cret pass", DashboardSettings())


def test_exposed_without_login_refuses_to_start(make_settings: Callable[..., Settings]) -> None:
    with pytest.raises(ConfigError, match="no login"):
        streamlit_argv(make_settings(dashboard={"address": "0.0.0.0"}))
    argv = streamlit_argv(make_settings(dashboard={"address": "0.0.0.0", "password": "pw", "port": 8611}))
    assert argv[argv.index("--server.address") + 1] == "0.0.0.0"
    assert argv[argv.index("--server.port") + 1] == "8611"


def _no_data(at: object) -> None:
    assert not at.dataframe  # type: ignore[attr-defined]
    assert not metrics(at)  # type: ignore[arg-type]
    assert "ACME" not in texts(at)  # type: ignore[arg-type]


def test_password_login_gates_every_page(make_backends: Callable[..., Backends]) -> None:
    b = make_backends(seed_docs(), settings=EXPOSED)
    at = run_page(b, "search")
    _no_data(at)
    at.text_input(key="login_name").input("ann")
    at.text_input(key="login_password").input("wrong")
    at.button[0].click().run()
    assert "Wrong name or password." in texts(at)
    _no_data(at)
    at.text_input(key="login_password").input("s3cret pass")
    at.button[0].click().run()
    assert metrics(at)["Results on this page"] == "33"


def test_logged_in_user_signs_corrections(make_backends: Callable[..., Backends]) -> None:
    b = make_backends(seed_docs(), settings=EXPOSED)
    at = run_page(b, "feedback", {"doc": "doc000003"})
    at.text_input(key="login_name").input("ann")
    at.text_input(key="login_password").input("s3cret pass")
    at.button[0].click().run()
    at.selectbox(key="fb_s_doc000003").select("positive")
    at.button[0].click().run()
    assert b.labels is not None
    assert [lab.user for lab in b.labels.labels()] == ["ann"]


def test_exposed_without_login_shows_nothing(make_backends: Callable[..., Backends]) -> None:
    at = run_page(make_backends(seed_docs(), settings=DashboardSettings(address="0.0.0.0")), None)
    _no_data(at)
    assert "without a login configured" in texts(at)
