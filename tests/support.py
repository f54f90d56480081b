"""Test support: a real uvicorn server on a free port, factories for users, areas and residents."""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from shapely.geometry import box
from websockets.sync.client import ClientConnection, connect

from kizuna.app import create_app
from kizuna.areas import upsert_municipality
from kizuna.auth import create_user
from kizuna.db import Database
from kizuna.runtime import Runtime, build_runtime
from kizuna.settings import Settings

PASSWORD = "correct-horse-battery"
# The test servers speak plain HTTP on loopback. A new httpx client loads the CA bundle into a
# new TLS context (~16 ms of CPU), so they share one; `http` is the client for one-off requests.
TLS = ssl.create_default_context()
http = httpx.Client(timeout=5, verify=TLS)
# Two neighbouring synthetic cities sharing the meridian 139.1: A = 99998 (999989), B = 99999.
CITY_A = "999989"
CITY_B = "999997"
CITY_A_BOX = (139.0, 35.0, 139.1, 35.1)
CITY_B_BOX = (139.1, 35.0, 139.2, 35.1)


def make_settings(data_dir: Path, database_url: str | None = None, **overrides: Any) -> Settings:
    """Settings for a test server: fast timers, a fixed key; override what a test is about."""
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": database_url,
        "secret_key": "test-secret-key-that-is-long-enough-for-hs256",
        "delivery_sweep_interval_s": 0.5,
        "outbox_poll_interval_s": 0.5,
        "expiry_check_interval_s": 0.5,
        # Every test client comes from 127.0.0.1: the rate-limit tests turn these back on.
        "subscription_rate_limit": 0,
        "login_rate_limit": 0,
        # Test users' passwords need no protection; real argon2id, at its cheapest.
        "password_hash_memory_kib": 1024,
        "password_hash_time_cost": 1,
    }
    values.update(overrides)
    return Settings(**values)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def seed_basics(database: Database, settings: Settings) -> None:
    """Two cities, an officer for each, an admin and one user of every other role in city A."""
    with database.session() as session:
        upsert_municipality(session, CITY_A, "Atown", box(*CITY_A_BOX))
        upsert_municipality(session, CITY_B, "Btown", box(*CITY_B_BOX))
        create_user(session, settings, "officer-a", PASSWORD, "officer", [CITY_A])
        create_user(session, settings, "officer-a2", PASSWORD, "officer", [CITY_A])
        create_user(session, settings, "officer-b", PASSWORD, "officer", [CITY_B])
        create_user(session, settings, "admin", PASSWORD, "admin", [])
        for role in ("shelter_manager", "responder", "volunteer", "media"):
            create_user(session, settings, role.replace("_", "-"), PASSWORD, role, [CITY_A])


def polygon(min_lon: float, min_lat: float, max_lon: float, max_lat: float) -> dict[str, Any]:
    """A GeoJSON rectangle, counter-clockwise and closed."""
    return {
        "type": "Polygon",
        "coordinates": [
            [
                [min_lon, min_lat],
                [max_lon, min_lat],
                [max_lon, max_lat],
                [min_lon, max_lat],
                [min_lon, min_lat],
            ]
        ],
    }


def alert_body(**overrides: Any) -> dict[str, Any]:
    """A valid flood evacuation order for the west half of city A; override any field."""
    body: dict[str, Any] = {
        "event": "洪水 (flood)",
        "category": "Met",
        "severity": "Severe",
        "urgency": "Immediate",
        "certainty": "Observed",
        "status": "Actual",
        "evacuation_level": 4,
        "expires": (datetime.now(UTC) + timedelta(hours=6)).isoformat(),
        "area": {"geometry": polygon(139.0, 35.0, 139.05, 35.1)},
        "info": [
            {
                "language": "ja",
                "headline": "避難指示",
                "description": "川が氾濫する恐れ",
                "instruction": "直ちに避難してください",
            },
            {
                "language": "en",
                "headline": "Evacuation order",
                "description": "River may flood",
                "instruction": "Evacuate now",
            },
        ],
    }
    body.update(overrides)
    return body


@dataclass
class Resident:
    id: str
    token: str
    body: dict[str, Any]


@dataclass
class LiveServer:
    settings: Settings
    runtime: Runtime
    port: int
    server: uvicorn.Server
    thread: threading.Thread
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, verify=TLS)

    def login(self, username: str, password: str = PASSWORD) -> str:
        if username not in self.tokens:
            response = http.post(
                f"{self.url}/api/v1/auth/token",
                data={"username": username, "password": password},
                timeout=30,
            )
            response.raise_for_status()
            self.tokens[username] = response.json()["access_token"]
        return self.tokens[username]

    def auth(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.login(username)}"}

    def subscribe(
        self, places: list[dict[str, Any]], languages: list[str] | None = None
    ) -> Resident:
        body = {"places": places, "languages": languages or ["ja"]}
        response = http.post(f"{self.url}/api/v1/subscriptions", json=body, timeout=30)
        assert response.status_code == 201, response.text
        data = response.json()
        return Resident(id=data["id"], token=data["token"], body=data)

    def connect(self, resident: Resident) -> ResidentSocket:
        stack = ExitStack()
        socket_ = stack.enter_context(
            connect(f"ws://127.0.0.1:{self.port}/ws/alerts?token={resident.token}", open_timeout=10)
        )
        hello = json.loads(socket_.recv(timeout=10))
        assert hello["type"] == "hello", hello
        return ResidentSocket(socket_, stack)

    def draft_and_issue(self, username: str = "officer-a", **overrides: Any) -> dict[str, Any]:
        with self.client() as client:
            created = client.post(
                "/api/v1/alerts", json=alert_body(**overrides), headers=self.auth(username)
            )
            assert created.status_code == 201, created.text
            issued = client.post(
                f"/api/v1/alerts/{created.json()['id']}/issue", headers=self.auth(username)
            )
            assert issued.status_code == 200, issued.text
            return issued.json()

    def deliveries(self, alert_id: str, username: str = "officer-a") -> dict[str, Any]:
        response = http.get(
            f"{self.url}/api/v1/alerts/{alert_id}/deliveries",
            headers=self.auth(username),
            timeout=30,
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


class ResidentSocket:
    """A real WebSocket client of /ws/alerts, collecting the messages it receives."""

    def __init__(self, connection: ClientConnection, stack: ExitStack) -> None:
        self.connection = connection
        self._stack = stack
        self.received: list[dict[str, Any]] = []

    def next_message(self, timeout: float = 10) -> dict[str, Any]:
        message = dict(json.loads(self.connection.recv(timeout=timeout)))
        self.received.append(message)
        return message

    def alerts(
        self, expect: int = 0, quiet: float = 1.0, timeout: float = 20.0
    ) -> list[dict[str, Any]]:
        """Alert messages: wait up to `timeout` for `expect` of them, then `quiet` seconds more,
        so a late duplicate would still be caught."""
        found: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while len(found) < expect:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return found
            try:
                message = self.next_message(timeout=remaining)
            except TimeoutError:
                return found
            if message.get("type") == "alert":
                found.append(message)
        while True:
            try:
                message = self.next_message(timeout=quiet)
            except TimeoutError:
                return found
            if message.get("type") == "alert":
                found.append(message)

    def send(self, message: dict[str, Any]) -> None:
        self.connection.send(json.dumps(message))

    def close(self) -> None:
        self._stack.close()


def start_server(
    settings: Settings, seed: Callable[[Database, Settings], None] | None = seed_basics
) -> LiveServer:
    """Migrate, seed and run the real app under uvicorn in a thread on a free port."""
    from kizuna.migrate import upgrade

    upgrade(settings)
    runtime = build_runtime(settings)
    if seed is not None:
        seed(runtime.db, settings)
    port = free_port()
    config = uvicorn.Config(
        create_app(settings, runtime=runtime),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        ws="websockets-sansio",
        proxy_headers=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("test server did not start")
        time.sleep(0.02)
    return LiveServer(settings=settings, runtime=runtime, port=port, server=server, thread=thread)


def wait_for(predicate: Callable[[], bool], timeout: float = 15, interval: float = 0.05) -> None:
    """Poll until `predicate()` is true; fail the test with a timeout otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


def audit_entries(server: LiveServer, **params: Any) -> list[dict[str, Any]]:
    """The audit log as an admin reads it over the API, newest first, filtered by `params`."""
    response = http.get(
        f"{server.url}/api/v1/audit", params=params, headers=server.auth("admin"), timeout=30
    )
    assert response.status_code == 200, response.text
    return list(response.json())


def kizuna_command(
    data_dir: Path, *args: str, database_url: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `python -m kizuna ARGS` as a user would, on `data_dir` (its SQLite database unless
    `database_url` is given), with the rest of the environment as it is."""
    env = {**os.environ, "KIZUNA_DATA_DIR": str(data_dir)}
    env.pop("KIZUNA_DATABASE_URL", None)
    if database_url:
        env["KIZUNA_DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "-m", "kizuna", *args],
        env=env,
        text=True,
        capture_output=True,
        timeout=120,
    )
