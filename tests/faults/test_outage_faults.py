"""Outages and slowness between the worker and its servers, injected on the network by a TCP proxy."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from finsentry.app.factory import make_store
from finsentry.broker import EmbeddedBroker, wait_for_port
from finsentry.ids import doc_id
from finsentry.protocols import DocumentStore
from finsentry.settings import Settings, StoreSettings
from models.serving import serve_model_argv
from tests.conftest import EmbeddedSearch, free_port
from tests.faults.checker import History
from tests.faults.conftest import Supervised, encode, fault_env, good_item, new_history, produce
from tests.faults.proxy import FaultProxy
from tests.stream.conftest import wait_until

OUTAGE_S = 5.0  # the behaviour does not depend on the outage's length: seconds, not the 30 s of a real one


@pytest.fixture
def es_proxy(search_server: EmbeddedSearch) -> Iterator[FaultProxy]:
    proxy = FaultProxy(search_server.port)
    yield proxy
    proxy.close()


def _es_store(url: str, prefix: str) -> DocumentStore:
    return make_store(Settings(store=StoreSettings(url=url, index_prefix=prefix)))


def _send(bootstrap: str, h: History, start: int, stop: int) -> None:
    items = [good_item(h.nonce, n) for n in range(start, stop)]
    produce(bootstrap, h, [encode(i) for i in items], {doc_id(i["url"]) for i in items})


def _env_for_es(broker: EmbeddedBroker, tmp_path: Path, proxy: FaultProxy, prefix: str) -> dict[str, str]:
    return fault_env(
        broker.bootstrap,
        tmp_path,
        FINSENTRY_STORE__URL=proxy.url,
        FINSENTRY_STORE__INDEX_PREFIX=prefix,
        FINSENTRY_STORE__REQUEST_TIMEOUT_S="3",
    )


def test_store_unreachable_then_back(
    broker: EmbeddedBroker,
    search_server: EmbeddedSearch,
    es_proxy: FaultProxy,
    supervised: Callable[..., Supervised],
    tmp_path: Path,
) -> None:
    h = new_history(f"store (Elasticsearch API) unreachable for {OUTAGE_S:.0f} s")
    prefix = "f" + h.nonce
    sup = supervised(_env_for_es(broker, tmp_path, es_proxy, prefix))
    direct = _es_store(search_server.url, prefix)
    _send(broker.bootstrap, h, 0, 200)
    wait_until(lambda: len(set(h.stored_ids(direct))) >= 200, 90, "the first 200 documents")
    es_proxy.down()
    _send(broker.bootstrap, h, 200, 400)
    time.sleep(OUTAGE_S)
    es_proxy.up()
    wait_until(lambda: len(set(h.stored_ids(direct))) >= 400, 150, "every document after the outage")
    out = h.judge(direct, note=f"worker exits {sup.exit_codes}, restarts {sup.restarts}", lag=sup.lag())
    assert out.holds, out


def test_slow_store(
    broker: EmbeddedBroker,
    search_server: EmbeddedSearch,
    es_proxy: FaultProxy,
    supervised: Callable[..., Supervised],
    tmp_path: Path,
) -> None:
    h = new_history("slow store (+30 ms per network read)")
    prefix = "f" + h.nonce
    es_proxy.delay = 0.03
    sup = supervised(_env_for_es(broker, tmp_path, es_proxy, prefix))
    direct = _es_store(search_server.url, prefix)
    _send(broker.bootstrap, h, 0, 200)
    wait_until(lambda: len(set(h.stored_ids(direct))) >= 200, 150, "every document through the slow store")
    out = h.judge(direct, note=f"restarts {sup.restarts}", lag=sup.lag())
    assert out.holds, out


def test_model_server_down_then_back(
    broker: EmbeddedBroker, supervised: Callable[..., Supervised], tmp_path: Path
) -> None:
    import os
    import subprocess

    from finsentry.proc import die_with_parent

    h = new_history(f"model server (Triton) down for {OUTAGE_S:.0f} s")
    grpc = free_port()
    env = fault_env(broker.bootstrap, tmp_path)
    server = subprocess.Popen(
        serve_model_argv(grpc, free_port(), free_port()),
        env={**env, "FINSENTRY_MODEL__CLASSIFIER_URL": "local://current"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        preexec_fn=die_with_parent,
    )
    proxy = FaultProxy(grpc)
    try:
        wait_for_port("127.0.0.1", grpc, 120)
        time.sleep(2.0)  # the port opens a moment before the model is loaded
        sup = supervised({**env, "FINSENTRY_MODEL__CLASSIFIER_URL": f"triton://127.0.0.1:{proxy.port}"})
        store = make_store(Settings(store=StoreSettings(url=env["FINSENTRY_STORE__URL"])))
        _send(broker.bootstrap, h, 0, 100)
        wait_until(lambda: len(set(h.stored_ids(store))) >= 100, 90, "the first 100 documents")
        proxy.down()
        feeder = threading.Thread(target=_send, args=(broker.bootstrap, h, 100, 200))
        feeder.start()
        time.sleep(OUTAGE_S)
        proxy.up()
        feeder.join()
        wait_until(lambda: len(set(h.stored_ids(store))) >= 200, 150, "every document after the outage")
        out = h.judge(store, note=f"worker exits {sup.exit_codes}, restarts {sup.restarts}", lag=sup.lag())
        assert out.holds, out
    finally:
        proxy.close()
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            os.kill(server.pid, 9)
