"""Build backends from settings, by URL scheme: the one place that knows every backend."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast
from urllib.parse import urlsplit

from finsentry.errors import ConfigError
from finsentry.protocols import (
    AlertStore,
    Classifier,
    DeliveryStore,
    DocumentStore,
    FeedHealthStore,
    LabelStore,
    ManagedStore,
    SeenItems,
    StoryIndex,
    SubscriberStore,
)
from finsentry.settings import Settings

if TYPE_CHECKING:
    from models.classifiers import CurrentModel

T = TypeVar("T")


@dataclass(frozen=True)
class AlertStores:
    """The alert part's three stores, sharing one backend."""

    alerts: AlertStore
    subscribers: SubscriberStore
    deliveries: DeliveryStore


def sqlite_path(url: str) -> Path:
    """``sqlite:///rel/path`` → ``rel/path``; ``sqlite:////abs/path`` → ``/abs/path``."""
    path = urlsplit(url).path
    if not path or path == "/":
        raise ConfigError(f"sqlite URL needs a file path: {url!r}")
    return Path(path[1:])


def _sqlite(settings: Settings) -> DocumentStore:
    from finsentry.store.sqlite import SqliteStore

    return SqliteStore(sqlite_path(settings.store.url))


def _elasticsearch(settings: Settings) -> DocumentStore:
    from finsentry.store.elasticsearch import ElasticsearchStore
    from finsentry.store.es import make_es_client

    s = settings.store
    return ElasticsearchStore(
        make_es_client(s), s.index_prefix, url=s.url, retry_seconds=s.retry_seconds, max_doc_bytes=s.max_doc_bytes
    )


_STORES: dict[str, Callable[[Settings], DocumentStore]] = {
    "sqlite": _sqlite,
    "http": _elasticsearch,
    "https": _elasticsearch,
}


def _pick(table: dict[str, Callable[[Settings], T]], url: str, what: str) -> Callable[[Settings], T]:
    scheme = urlsplit(url).scheme
    if scheme not in table:  # look up first: a KeyError inside a backend is not "unknown scheme"
        raise ConfigError(f"unknown {what} URL scheme {scheme!r} in {url!r}; known: {sorted(table)}")
    return table[scheme]


def make_store(settings: Settings) -> ManagedStore:
    """The document store named by ``settings.store.url``, its indices created when missing.

    Raises:
        ConfigError: unknown scheme, or an existing index whose mapping is incompatible.
        ServiceUnavailable: the store did not answer (the message names its URL).
    """
    store = cast(ManagedStore, _pick(_STORES, settings.store.url, "store")(settings))
    store.ensure()
    return store


def make_store_at(settings: Settings, url: str) -> ManagedStore:
    """The document store at ``url`` with the rest of ``settings.store`` (``finsentry index reindex``).

    A relative ``sqlite:///`` path is under ``FINSENTRY_HOME``, as in the settings.
    """
    if urlsplit(url).scheme == "sqlite" and not sqlite_path(url).is_absolute():
        url = f"sqlite:///{settings.home / sqlite_path(url)}"
    return make_store(settings.model_copy(update={"store": settings.store.model_copy(update={"url": url})}))


def _local(settings: Settings) -> Classifier:
    from models.classifiers import OnnxClassifier

    return OnnxClassifier(current_model(settings))


def current_model(settings: Settings, keep_base: bool = False, version: str | None = None) -> CurrentModel:
    """The model ``local://`` scores with (and the model server serves): pinned or following current.

    ``keep_base`` (the model server) refuses promotions to another base encoder; ``version``
    (``finsentry predict --model``) pins a version over the one the URL names.
    """
    from models.classifiers import CurrentModel
    from models.registry import ModelRegistry

    url = urlsplit(settings.model.classifier_url)
    pinned = url.netloc if url.scheme == "local" and url.netloc not in ("", "current") else None
    m = settings.model
    return CurrentModel(
        ModelRegistry(m.registry),
        version or pinned,
        m.reload_seconds,
        m.threads,
        keep_base=keep_base,
        precision=m.precision,
        device=m.device,
        gpu_dtype=m.gpu_dtype,
        bases_cache=settings.home / "bases",
    )


def _baseline(settings: Settings) -> Classifier:
    from models.classifiers import BaselineClassifier

    return BaselineClassifier()


def _triton(settings: Settings) -> Classifier:
    from models.triton_client import TritonClassifier

    return TritonClassifier.from_url(settings.model.classifier_url, settings.home / "bases")


_CLASSIFIERS: dict[str, Callable[[Settings], Classifier]] = {
    "local": _local,
    "baseline": _baseline,
    "triton": _triton,
}


def make_classifier(settings: Settings) -> Classifier:
    """The classifier named by ``settings.model.classifier_url``.

    Raises:
        ConfigError: unknown scheme.
    """
    return _pick(_CLASSIFIERS, settings.model.classifier_url, "classifier")(settings)


# How one record kind's store is built on each backend: from a SqliteDatabase, from (client, index prefix).
_Builders = tuple[Callable[[Any], T], Callable[[Any, str], T]]


def _on_store(settings: Settings, sqlite: Callable[[Any], T], es: Callable[[Any, str], T], what: str) -> T:
    """One record kind's store beside the documents: the SQLite file or the Elasticsearch cluster of the URL."""

    def on_sqlite(s: Settings) -> T:
        from finsentry.store.sqlitedb import SqliteDatabase

        return sqlite(SqliteDatabase(sqlite_path(s.store.url)))

    def on_es(s: Settings) -> T:
        from finsentry.store.es import make_es_client

        return es(make_es_client(s.store), s.store.index_prefix)

    return _pick({"sqlite": on_sqlite, "http": on_es, "https": on_es}, settings.store.url, what)(settings)


def make_label_store(settings: Settings) -> LabelStore:
    """Where analysts' corrections live: the same store as the documents (``settings.store.url``).

    Raises:
        ConfigError: unknown scheme.
    """
    from finsentry.store.es_labels import ElasticsearchLabelStore
    from finsentry.store.sqlite_labels import SqliteLabelStore

    build: _Builders[LabelStore] = (SqliteLabelStore, ElasticsearchLabelStore)
    return _on_store(settings, *build, "label store")


def make_alert_stores(settings: Settings) -> AlertStores:
    """Alerts, subscribers and deliveries in the backend ``settings.store.url`` names.

    Raises:
        ConfigError: unknown scheme.
    """
    from finsentry.store import es_alerts as e
    from finsentry.store import sqlite_alerts as q

    return _on_store(
        settings,
        lambda db: AlertStores(q.SqliteAlertStore(db), q.SqliteSubscriberStore(db), q.SqliteDeliveryStore(db)),
        lambda c, p: AlertStores(
            e.ElasticsearchAlertStore(c, p), e.ElasticsearchSubscriberStore(c, p), e.ElasticsearchDeliveryStore(c, p)
        ),
        "store",
    )


def make_crawler_state(settings: Settings) -> tuple[FeedHealthStore, SeenItems]:
    """The crawler's durable feed health and seen-set, next to the documents (``settings.store.url``).

    Raises:
        ConfigError: unknown scheme.
    """
    from finsentry.store import es_feeds as e
    from finsentry.store import sqlite_feeds as q

    build: _Builders[tuple[FeedHealthStore, SeenItems]] = (
        lambda db: (q.SqliteFeedHealthStore(db), q.SqliteSeenItems(db)),
        lambda c, p: (e.ElasticsearchFeedHealthStore(c, p), e.ElasticsearchSeenItems(c, p)),
    )
    return _on_store(settings, *build, "store")


def make_story_index(settings: Settings) -> StoryIndex:
    """The story index every worker shares, in the document store (``settings.store.url``).

    Raises:
        ConfigError: unknown scheme.
    """
    from finsentry.store.es_feeds import ElasticsearchStoryIndex
    from finsentry.store.sqlite_feeds import SqliteStoryIndex

    build: _Builders[StoryIndex] = (SqliteStoryIndex, ElasticsearchStoryIndex)
    return _on_store(settings, *build, "store")
