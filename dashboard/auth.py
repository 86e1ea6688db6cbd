"""Who is looking: nobody needs to log in on localhost; anywhere else a login comes before any data."""

from __future__ import annotations

import hmac
import ipaddress
import time

import streamlit as st

from finsentry.settings import DashboardSettings

_USER_KEY = "finsentry_user"
FAILED_LOGIN_DELAY_S = 1.0  # slows guessing; the comparison itself is constant-time


def is_local(address: str) -> bool:
    """True when ``address`` only accepts connections from this machine."""
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def login_mode(settings: DashboardSettings) -> str:
    """``none`` (localhost), ``oidc``, ``password``, or ``refuse`` (exposed with no login configured)."""
    if is_local(settings.address):
        return "none"
    if settings.oidc:
        return "oidc"
    if settings.password is not None and settings.password.get_secret_value():
        return "password"
    return "refuse"


def password_ok(given: str, settings: DashboardSettings) -> bool:
    """Compare in constant time (no early exit that leaks how much of the password matched)."""
    if settings.password is None:
        return False
    return hmac.compare_digest(given.encode("utf-8"), settings.password.get_secret_value().encode("utf-8"))


def gate(settings: DashboardSettings, local_user: str) -> str | None:
    """The user's name, or None after drawing only the login (the caller then shows nothing)."""
    mode = login_mode(settings)
    if mode == "none":
        return local_user
    if mode == "oidc":
        return _oidc_user()
    if mode == "password":
        return _password_user(settings)
    st.error("This dashboard is exposed beyond localhost without a login configured; it shows nothing.")
    return None


def _oidc_user() -> str | None:
    if st.user.is_logged_in:
        return str(st.user.get("email") or st.user.get("name") or "oidc-user")
    st.title("finsentry")
    st.button("Log in", on_click=st.login, key="oidc_login")
    return None


def _password_user(settings: DashboardSettings) -> str | None:
    user = st.session_state.get(_USER_KEY)
    if isinstance(user, str) and user:
        return user
    st.title("finsentry")
    with st.form("login"):
        name = st.text_input("Your name", key="login_name")
        password = st.text_input("Password", type="password", key="login_password")
        submitted = st.form_submit_button("Log in")
    if submitted:
        if name.strip() and password_ok(password, settings):
            st.session_state[_USER_KEY] = name.strip()[:100]
            st.rerun()
        time.sleep(FAILED_LOGIN_DELAY_S)
        st.error("Wrong name or password.")
    return None


def logout_button() -> None:
    """Forget a password login (OIDC users log out through the provider's session)."""
    if st.session_state.get(_USER_KEY) and st.sidebar.button("Log out", key="logout"):
        del st.session_state[_USER_KEY]
        st.rerun()
