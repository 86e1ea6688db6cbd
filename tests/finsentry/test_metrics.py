from __future__ import annotations

import httpx

from finsentry import metrics


def test_metrics_endpoint_shows_counters_moving() -> None:
    server = metrics.MetricsServer("127.0.0.1", 0)
    port = server.start()
    try:

        def stored() -> float:
            text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
            line = next(ln for ln in text.splitlines() if ln.startswith("finsentry_docs_stored_total "))
            return float(line.split()[1])

        before = stored()
        metrics.DOCS_STORED.inc(3)
        assert stored() == before + 3
        metrics.DEAD_LETTERS.labels(stage="parse").inc()
        assert 'finsentry_dead_letters_total{stage="parse"}' in httpx.get(f"http://127.0.0.1:{port}/metrics").text
    finally:
        server.stop()


def test_health_endpoint_follows_the_check() -> None:
    healthy = [True]
    server = metrics.MetricsServer("127.0.0.1", 0, health=lambda: healthy[0])
    port = server.start()
    try:
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
        healthy[0] = False
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 503
        assert httpx.get(f"http://127.0.0.1:{port}/nope").status_code == 404
    finally:
        server.stop()


def test_a_raising_health_check_is_unhealthy_not_a_crash() -> None:
    def broken() -> bool:
        raise RuntimeError("store gone")

    server = metrics.MetricsServer("127.0.0.1", 0, health=broken)
    port = server.start()
    try:
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 503
    finally:
        server.stop()
