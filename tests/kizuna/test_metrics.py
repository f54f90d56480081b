"""GET /metrics: what an operator's Prometheus sees after an alert reaches residents."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from tests.support import LiveServer, http, wait_for

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(server: LiveServer) -> Samples:
    response = http.get(f"{server.url}/metrics", timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_an_alert_to_two_residents_shows_in_metrics(server: LiveServer) -> None:
    residents = [
        server.subscribe([{"label": "home", "lon": 139.02, "lat": 35.05}]),
        server.subscribe([{"label": "home", "lon": 139.03, "lat": 35.06}]),
    ]
    sockets = [server.connect(resident) for resident in residents]
    try:
        wait_for(
            lambda: value(scrape(server), "kizuna_websocket_connections", hub="residents") == 2
        )
        before = scrape(server)
        alert = server.draft_and_issue()
        for socket_ in sockets:
            assert len(socket_.alerts(expect=1, quiet=0.2)) == 1
        after = scrape(server)
    finally:
        for socket_ in sockets:
            socket_.close()

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("kizuna_alerts_issued_total", status="Actual", msg_type="Alert") == 1
    assert delta("kizuna_recipients_targeted_total") == 2
    assert delta("kizuna_deliveries_total", channel="websocket", state="sent") == 2
    assert delta("kizuna_delivery_latency_seconds_count", channel="websocket") == 2
    assert value(after, "kizuna_websocket_connections", hub="residents") == 2
    assert ("kizuna_queue_depth", frozenset({("queue", "deliveries_pending")})) in after
    assert value(after, "kizuna_queue_depth", queue="outbox_unpublished") == 0

    # Route labels are templates: the alert's id never becomes a label value.
    issue_route = "/api/v1/alerts/{alert_id}/issue"
    assert delta("kizuna_http_requests_total", method="POST", route=issue_route, status="200") == 1
    assert not any(alert["id"] in str(labels) for _, labels in after)
    wait_for(lambda: value(scrape(server), "kizuna_websocket_connections", hub="residents") == 0)


def test_metrics_are_refused_to_remote_clients_without_the_token(server: LiveServer) -> None:
    app: Any = server.server.config.app

    async def get(headers: dict[str, str] | None = None) -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://kizuna") as client:
            return await client.get("/metrics", headers=headers)

    refused = asyncio.run(get())
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"
    assert "kizuna_" not in refused.text

    server.runtime.settings.metrics_token = SecretStr("scrape-secret-123")
    wrong = asyncio.run(get({"Authorization": "Bearer not-it"}))
    assert wrong.status_code == 401
    assert wrong.json()["error"]["field"] == "Authorization"
    allowed = asyncio.run(get({"Authorization": "Bearer scrape-secret-123"}))
    assert allowed.status_code == 200
    assert "kizuna_deliveries_total" in allowed.text or "kizuna_deliveries" in allowed.text


def test_multiprocess_mode_sums_the_counters_of_every_process(tmp_path: Path) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    record = "from kizuna import metrics; metrics.record_delivery('webpush', 'sent', 3)"
    for _ in range(2):  # two worker processes, each delivering three
        subprocess.run([sys.executable, "-c", record], env=env, check=True, timeout=60)
    scrape_code = (
        "import types; from kizuna import metrics; "
        "runtime = types.SimpleNamespace(hubs={}, settings=types.SimpleNamespace(redis_url=None),"
        " db=None); print(metrics.exposition(runtime).decode())"
    )
    out = subprocess.run(
        [sys.executable, "-c", scrape_code],
        env=env,
        check=True,
        timeout=60,
        capture_output=True,
        text=True,
    ).stdout
    assert 'kizuna_deliveries_total{channel="webpush",state="sent"} 6.0' in out
