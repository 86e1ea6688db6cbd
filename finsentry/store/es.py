"""The Elasticsearch client every Elasticsearch-backed record kind shares, built from store settings."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from finsentry.errors import ConfigError
from finsentry.settings import StoreSettings

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch


def es_hosts(url: str) -> list[str]:
    """``http(s)://h1:9200[,h2:9200]`` → one URL per node.

    Raises:
        ConfigError: a node that is not an http(s) URL with a host.

    """
    first = urlsplit(url)
    scheme = first.scheme
    hosts = []
    for part in first.netloc.split(","):
        node = urlsplit(f"{scheme}://{part}")
        if scheme not in ("http", "https") or not node.hostname:
            raise ConfigError(f"not an Elasticsearch URL: {url!r} (expected http(s)://host:9200[,host2:9200])")
        hosts.append(f"{scheme}://{part}")
    return hosts


def make_es_client(store: StoreSettings) -> Elasticsearch:
    """The official client for ``store.url`` with its credentials; TLS is verified unless disabled.

    Secrets come from ``SecretStr`` settings and are never logged.
    """
    from elasticsearch import Elasticsearch

    kwargs: dict[str, object] = {
        "hosts": es_hosts(store.url),
        "request_timeout": store.request_timeout_s,
        "verify_certs": store.verify_certs,
        "retry_on_timeout": True,
        "max_retries": 3,
    }
    if store.ca_certs:
        kwargs["ca_certs"] = str(store.ca_certs)
    if store.api_key is not None:
        kwargs["api_key"] = store.api_key.get_secret_value()
    elif store.password is not None:
        kwargs["basic_auth"] = (store.username, store.password.get_secret_value())
    return Elasticsearch(**kwargs)  # type: ignore[arg-type]
