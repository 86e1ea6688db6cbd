"""Build backends from settings, by URL scheme: the one place that knows every backend."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlsplit

from finsentry.errors import ConfigError
from finsentry.protocols import Classifier, DocumentStore, FeedHealthStore, SeenItems, StoryIndex
from finsentry.settings import Settings

if TYPE_CHECKING:
    from models.classifiers import CurrentModel

T = TypeVar("T")


def sqlite_path(url: str) -> Path:
    """``sqlite:///rel/path`` → ``rel/path``; ``sqlite:////abs/path`` → ``/abs/path``."""
    path = urlsplit(url).path
    if not path or path == "/":
        raise ConfigError(f"sqlite URL needs a file path: {url!r}")
    return Path(path[1:])


def _sqlite(settings: Settings) -> DocumentStore:
    from finsentry.store.sqlite import SqliteStore

    return SqliteStore(sqlite_path(settings.store.url))


_STORES: dict[str, Callable[[Settings], DocumentStore]] = {"sqlite": _sqlite}


def _pick(table: dict[str, Callable[[Settings], T]], url: str, what: str) -> Callable[[Settings], T]:
    scheme = urlsplit(url).scheme
    if scheme not in table:  # look up first: a KeyError inside a backend is not "unknown scheme"
        raise ConfigError(f"unknown {what} URL scheme {scheme!r} in {url!r}; known: {sorted(table)}")
    return table[scheme]


def make_store(settings: Settings) -> DocumentStore:
    """The document store named by ``settings.store.url``.

    Raises:
        ConfigError: unknown scheme.
    """
    return _pick(_STORES, settings.store.url, "store")(settings)


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


def _sqlite_crawler_state(settings: Settings) -> tuple[FeedHealthStore, SeenItems]:
    from finsentry.store.sqlite_feeds import SqliteFeedHealthStore, SqliteSeenItems
    from finsentry.store.sqlitedb import SqliteDatabase

    db = SqliteDatabase(sqlite_path(settings.store.url))
    return SqliteFeedHealthStore(db), SqliteSeenItems(db)


def _es_crawler_state(settings: Settings) -> tuple[FeedHealthStore, SeenItems]:
    from finsentry.store.es import make_es_client
    from finsentry.store.es_feeds import ElasticsearchFeedHealthStore, ElasticsearchSeenItems

    client, prefix = make_es_client(settings.store), settings.store.index_prefix
    return ElasticsearchFeedHealthStore(client, prefix), ElasticsearchSeenItems(client, prefix)


_CRAWLER_STATE: dict[str, Callable[[Settings], tuple[FeedHealthStore, SeenItems]]] = {
    "sqlite": _sqlite_crawler_state,
    "http": _es_crawler_state,
    "https": _es_crawler_state,
}


def make_crawler_state(settings: Settings) -> tuple[FeedHealthStore, SeenItems]:
    """The crawler's durable feed health and seen-set, next to the documents (``settings.store.url``).

    Raises:
        ConfigError: unknown scheme.
    """
    return _pick(_CRAWLER_STATE, settings.store.url, "store")(settings)


def _sqlite_stories(settings: Settings) -> StoryIndex:
    from finsentry.store.sqlite_feeds import SqliteStoryIndex
    from finsentry.store.sqlitedb import SqliteDatabase

    return SqliteStoryIndex(SqliteDatabase(sqlite_path(settings.store.url)))


def _es_stories(settings: Settings) -> StoryIndex:
    from finsentry.store.es import make_es_client
    from finsentry.store.es_feeds import ElasticsearchStoryIndex

    return ElasticsearchStoryIndex(make_es_client(settings.store), settings.store.index_prefix)


_STORIES: dict[str, Callable[[Settings], StoryIndex]] = {
    "sqlite": _sqlite_stories,
    "http": _es_stories,
    "https": _es_stories,
}


def make_story_index(settings: Settings) -> StoryIndex:
    """The story index every worker shares, in the document store (``settings.store.url``).

    Raises:
        ConfigError: unknown scheme.
    """
    return _pick(_STORIES, settings.store.url, "store")(settings)
