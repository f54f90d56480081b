"""Structured logs: JSON lines carrying the request id the client sees, in API and workers."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from kizuna.context import RequestContext, reset_request, set_request
from kizuna.logging import make_handler
from kizuna.runtime import build_runtime
from tests.kizuna.worker_process import start_worker, stop, tail
from tests.services import PrivateRedis
from tests.support import LiveServer, free_port, http, make_settings, start_server, wait_for


@pytest.fixture
def captured(tmp_path: Path) -> Iterator[tuple[LiveServer, io.StringIO]]:
    """A live server whose log lines are written as JSON into a buffer."""
    buffer = io.StringIO()
    handler = make_handler("json", stream=buffer)
    root, access = logging.getLogger(), logging.getLogger("kizuna.access")
    previous = access.level
    root.addHandler(handler)
    access.setLevel(logging.INFO)
    live = start_server(make_settings(tmp_path), seed=None)
    try:
        yield live, buffer
    finally:
        live.stop()
        root.removeHandler(handler)
        access.setLevel(previous)


def lines_of(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


def test_request_log_lines_carry_the_response_request_id(
    captured: tuple[LiveServer, io.StringIO],
) -> None:
    live, buffer = captured
    response = http.get(f"{live.url}/api/v1/alerts/not-an-alert-id", timeout=30)
    request_id = response.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)

    wait_for(lambda: any(line.get("request_id") == request_id for line in lines_of(buffer)))
    mine = [line for line in lines_of(buffer) if line.get("request_id") == request_id]
    access = [line for line in mine if line["logger"] == "kizuna.access"]
    assert len(access) == 1
    entry = access[0]
    assert entry["method"] == "GET"
    assert entry["route"] == "/api/v1/alerts/{alert_id}"
    assert entry["status"] == response.status_code
    assert isinstance(entry["duration_ms"], float | int)
    assert entry["level"] == "INFO"
    assert entry["remote_addr"] == "127.0.0.1"
    assert entry["time"].endswith("+00:00")


def test_a_sane_client_id_is_kept_and_a_hostile_one_replaced(
    captured: tuple[LiveServer, io.StringIO],
) -> None:
    live, buffer = captured
    kept = http.get(f"{live.url}/healthz", headers={"X-Request-ID": "lb-7f3a.9_x"}, timeout=30)
    assert kept.headers["x-request-id"] == "lb-7f3a.9_x"
    hostile = 'x" \n{"level":"ERROR"}'.replace("\n", "")
    for given in (hostile, "a" * 65, "../../etc/passwd"):
        answer = http.get(f"{live.url}/healthz", headers={"X-Request-ID": given}, timeout=30)
        replaced = answer.headers["x-request-id"]
        assert replaced != given
        assert re.fullmatch(r"[0-9a-f]{32}", replaced)
    wait_for(lambda: any(line.get("request_id") == "lb-7f3a.9_x" for line in lines_of(buffer)))
    assert not any(line.get("request_id") == hostile for line in lines_of(buffer))


def test_kizuna_serve_writes_json_lines(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIZUNA_")}
    env.update(KIZUNA_DATA_DIR=str(tmp_path), PYTHONUNBUFFERED="1")
    log = tmp_path / "serve.log"
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "kizuna", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=handle,
            start_new_session=True,
            cwd=tmp_path,
        )
    try:
        deadline = time.monotonic() + 60
        response = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                response = http.get(
                    f"http://127.0.0.1:{port}/readyz", headers={"X-Request-ID": "probe-1"}
                )
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        assert response is not None and response.status_code == 200, log.read_text()
        wait_for(lambda: "probe-1" in log.read_text())
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    assert lines, log.read_text()
    # Every line is JSON (uvicorn's own lines too), and the probe's access line has its id.
    assert all(line.startswith("{") for line in log.read_text().splitlines() if line.strip())
    probe = [line for line in lines if line.get("request_id") == "probe-1"]
    assert probe and probe[0]["route"] == "/readyz" and probe[0]["status"] == 200


def test_a_worker_task_logs_the_submitting_request_id(
    tmp_path: Path, private_redis: PrivateRedis
) -> None:
    settings = make_settings(tmp_path, redis_url=private_redis.url)
    worker = start_worker(tmp_path, private_redis.url)
    runtime = build_runtime(settings)
    token = set_request(RequestContext(request_id="req-celery-42", remote_addr="127.0.0.1"))
    try:
        # A fan-out of a version that does not exist logs an error, and that is all it does.
        runtime.tasks.submit("alerts.fanout", version_id="no-such-version")
    finally:
        reset_request(token)
        runtime.close()
    log = tmp_path / "worker.log"
    try:
        wait_for(lambda: "no-such-version" in log.read_text(errors="replace"), timeout=60)
    finally:
        stop(worker)
    lines = [
        json.loads(line)
        for line in log.read_text(errors="replace").splitlines()
        if line.startswith("{")
    ]
    found = [line for line in lines if "no-such-version" in line["message"]]
    assert found, tail(tmp_path)
    assert found[0]["request_id"] == "req-celery-42"
    assert found[0]["logger"] == "alerts.tasks"
    assert found[0]["level"] == "ERROR"


def test_a_websocket_gets_a_request_id_too(captured: tuple[LiveServer, io.StringIO]) -> None:
    live, buffer = captured
    url = f"ws://127.0.0.1:{live.port}/ws/alerts?token=not-a-token"
    with connect(url, additional_headers={"X-Request-ID": "ws-probe-9"}) as websocket:
        assert websocket.response is not None
        assert websocket.response.headers["X-Request-ID"] == "ws-probe-9"
        with pytest.raises(ConnectionClosed):
            websocket.recv(timeout=10)  # closed: the token is not a subscription's
    wait_for(lambda: any(line.get("request_id") == "ws-probe-9" for line in lines_of(buffer)))
    closed = [line for line in lines_of(buffer) if line.get("request_id") == "ws-probe-9"]
    assert closed[0]["route"] == "/ws/alerts"
