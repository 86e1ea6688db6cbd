"""Standard Webhooks signing, the SSRF guard, and one HTTP try of a delivery.

Signature: ``v1,`` + base64 HMAC-SHA256 over ``{webhook-id}.{webhook-timestamp}.{body}`` keyed with
the base64-decoded part of a ``whsec_`` secret; during a rotation every live secret signs and the
header carries the signatures separated by spaces.

The guard resolves the destination once, refuses it when any address is not globally routable
(loopback, private, link-local, metadata, carrier-grade NAT, multicast, reserved) unless it lies in
an allowed network, and then connects to exactly the address it checked (the ``Host`` header and
TLS server name stay the URL's), so a DNS answer that changes between check and connect cannot
lead elsewhere. Redirects are never followed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import secrets
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit, urlunsplit

import httpx

from finsentry.errors import FinsentryError

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]
_PREFIX = "whsec_"


class WebhookError(FinsentryError):
    """A subscriber URL or secret that cannot be used."""


class RefusedDestination(WebhookError):
    """The SSRF guard refused a destination."""


def new_secret() -> str:
    """A fresh ``whsec_`` secret of 32 random bytes."""
    return _PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def parse_secret(secret: str) -> bytes:
    """The key bytes of a ``whsec_`` secret.

    Raises:
        WebhookError: not ``whsec_`` + base64 of at least 24 bytes.

    """
    if not secret.startswith(_PREFIX):
        raise WebhookError("a webhook secret starts with 'whsec_'")
    try:
        key = base64.b64decode(secret[len(_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise WebhookError("a webhook secret is 'whsec_' followed by base64") from None
    if len(key) < 24:
        raise WebhookError("a webhook secret needs at least 24 random bytes")
    return key


def sign(secrets_: Sequence[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value: one ``v1,`` signature per secret, space-separated."""
    to_sign = f"{msg_id}.{timestamp}.".encode() + body
    sigs = [hmac.new(parse_secret(s), to_sign, hashlib.sha256).digest() for s in secrets_]
    return " ".join("v1," + base64.b64encode(sig).decode() for sig in sigs)


def parse_networks(cidrs: Sequence[str]) -> list[IpNetwork]:
    """Allowed networks from CIDR strings.

    Raises:
        WebhookError: a string that is not a network.

    """
    try:
        return [ipaddress.ip_network(c, strict=False) for c in cidrs]
    except ValueError as exc:
        raise WebhookError(f"webhooks.allow_networks: {exc}") from None


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


@dataclass(frozen=True)
class Destination:
    """A checked destination: the URL, and the URL with the checked address in place of the host."""

    url: str
    host: str
    pinned_url: str
    address: str


def _allowed(ip: IpAddress, allow: Sequence[IpNetwork]) -> bool:
    if any(ip in net for net in allow):
        return True
    return ip.is_global and not ip.is_multicast


def check_url(url: str, allow: Sequence[IpNetwork], resolve: Resolver = system_resolver) -> Destination:
    """Validate a subscriber URL and the addresses it resolves to now.

    Raises:
        RefusedDestination: not http(s), no host, unresolvable, or an address the guard refuses.

    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise RefusedDestination(f"not a URL: {url[:200]!r}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
        raise RefusedDestination(f"only http(s) URLs with a host and no credentials: {url[:200]!r}")
    host = parts.hostname
    try:
        addresses = [ipaddress.ip_address(a.split("%")[0]) for a in resolve(host, port)]
    except (OSError, UnicodeError, ValueError) as exc:
        raise RefusedDestination(f"{host}: cannot resolve: {exc}") from None
    if not addresses:
        raise RefusedDestination(f"{host}: resolves to no address")
    bad = [str(a) for a in addresses if not _allowed(a, allow)]
    if bad:
        raise RefusedDestination(f"{host} resolves to {', '.join(bad)}: not a public address (see allow_networks)")
    first = addresses[0]
    literal = f"[{first}]" if first.version == 6 else str(first)
    pinned = urlunsplit((parts.scheme, f"{literal}:{port}", parts.path or "/", parts.query, ""))
    return Destination(url=url, host=parts.netloc.rsplit("@", 1)[-1], pinned_url=pinned, address=str(first))


@dataclass(frozen=True)
class Outcome:
    """One HTTP try: status (None when no answer), error, latency, and the server's Retry-After."""

    status_code: int | None
    error: str | None
    latency_ms: float
    retry_after_s: float | None = None


def retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # str.isdigit() also takes "²"
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def post(client: httpx.Client, dest: Destination, headers: dict[str, str], body: bytes) -> Outcome:
    """POST ``body`` to the checked address; never follows a redirect."""
    sni = urlsplit(dest.url).hostname or ""
    start = time.monotonic()
    try:
        resp = client.post(
            dest.pinned_url,
            content=body,
            headers={**headers, "host": dest.host, "content-type": "application/json"},
            extensions={"sni_hostname": sni},
            follow_redirects=False,
        )
    except httpx.HTTPError as exc:
        return Outcome(None, f"{type(exc).__name__}: {exc}"[:300], (time.monotonic() - start) * 1000)
    latency = (time.monotonic() - start) * 1000
    error = f"redirect to {resp.headers.get('location', '?')[:200]} not followed" if resp.is_redirect else None
    return Outcome(resp.status_code, error, latency, retry_after(resp.headers.get("retry-after"), time.time()))
