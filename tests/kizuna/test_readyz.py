"""GET /readyz: ready only when the database, Redis and a worker answer; /healthz stays cheap."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx

from kizuna.app import create_app
from kizuna.migrate import upgrade
from kizuna.settings import Settings
from tests.kizuna.worker_process import start_worker, stop, tail
from tests.services import PrivateRedis
from tests.support import free_port, http, make_settings, start_server


def get(settings: Settings, path: str) -> httpx.Response:
    """One request to a fresh app for `settings` (no lifespan: nothing is started)."""
    app = create_app(settings)

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://kizuna") as client:
            return await client.get(path)

    try:
        return asyncio.run(call())
    finally:
        app.state.runtime.close()


def test_ready_on_sqlite(tmp_path: Path) -> None:
    live = start_server(make_settings(tmp_path), seed=None)
    try:
        response = http.get(f"{live.url}/readyz", timeout=30)
        health = http.get(f"{live.url}/healthz", timeout=30)
    finally:
        live.stop()
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready"
    assert body["checks"] == {"database": "ok", "workers": "ok"}
    assert health.status_code == 200 and health.json() == {"status": "ok"}


def test_not_ready_when_redis_is_down(tmp_path: Path) -> None:
    closed = f"redis://127.0.0.1:{free_port()}/0"
    response = get(make_settings(tmp_path, redis_url=closed), "/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["error"]["code"] == "not_ready"
    assert body["error"]["field"] == "redis"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"].startswith("failed")
    assert body["checks"]["workers"].startswith("failed")
    # Liveness does not depend on Redis (or the database): restarting would not fix them.
    assert get(make_settings(tmp_path, redis_url=closed), "/healthz").status_code == 200


def test_not_ready_without_a_worker_then_ready_with_one(
    tmp_path: Path, private_redis: PrivateRedis
) -> None:
    settings = make_settings(tmp_path, redis_url=private_redis.url)
    upgrade(settings)
    response = get(settings, "/readyz")
    assert response.status_code == 503, response.text
    body = response.json()
    assert body["error"]["field"] == "workers"
    assert body["checks"]["redis"] == "ok"
    assert "no Celery worker" in body["checks"]["workers"]

    worker = start_worker(tmp_path, private_redis.url)
    try:
        deadline = time.monotonic() + 60
        while True:
            response = get(settings, "/readyz")
            if response.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert response.status_code == 200, f"{response.text}\n{tail(tmp_path)}"
        assert response.json()["checks"]["workers"] == "ok (1 worker)"
    finally:
        stop(worker)
