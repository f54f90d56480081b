"""A real distributed deployment for tests: `kizuna serve`, `worker` and `beat` as processes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from sqlalchemy import func, insert, select

from alerts.models import Delivery, Subscription, SubscriptionPlace
from kizuna.db import Database, new_id
from kizuna.migrate import upgrade
from kizuna.settings import Settings
from tests.support import free_port, http, seed_basics

SECRET = "cluster-test-secret-key-long-enough-for-hs256"


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    port: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill9(self) -> None:
        """Die as a crash would: no cleanup, no acknowledgements."""
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=30)

    def stop(self) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill9()

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class Cluster:
    """API processes, workers and beat sharing one PostgreSQL database and one Redis."""

    workdir: Path
    database_url: str
    redis_url: str
    overrides: dict[str, str] = field(default_factory=dict)
    processes: list[Process] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.settings = Settings(
            data_dir=self.workdir,
            database_url=self.database_url,
            secret_key=SECRET,
            password_hash_memory_kib=1024,
            password_hash_time_cost=1,
        )
        upgrade(self.settings)
        self.database = Database(self.database_url)
        seed_basics(self.database, self.settings)

    def env(self, **extra: str) -> dict[str, str]:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("KIZUNA_")}
        environment.update(
            KIZUNA_DATA_DIR=str(self.workdir),
            KIZUNA_DATABASE_URL=self.database_url,
            KIZUNA_REDIS_URL=self.redis_url,
            KIZUNA_SECRET_KEY=SECRET,
            # The fault tests issue Actual alerts from one officer; approval has its own tests.
            KIZUNA_TWO_PERSON_RULE="false",
            # Hundreds of residents subscribe from 127.0.0.1 here.
            KIZUNA_SUBSCRIPTION_RATE_LIMIT="0",
            KIZUNA_LOGIN_RATE_LIMIT="0",
            KIZUNA_FANOUT_GRACE_S="3",
            KIZUNA_RECONCILE_INTERVAL_S="1",
            KIZUNA_DELIVERY_SWEEP_INTERVAL_S="1",
            KIZUNA_OUTBOX_POLL_INTERVAL_S="0.5",
            KIZUNA_EXPIRY_CHECK_INTERVAL_S="2",
            KIZUNA_CELERY_VISIBILITY_TIMEOUT_S="20",
            PYTHONUNBUFFERED="1",
        )
        environment.update(self.overrides)
        environment.update(extra)
        return environment

    def _spawn(
        self,
        name: str,
        args: list[str],
        port: int | None = None,
        extra: dict[str, str] | None = None,
    ) -> Process:
        log = self.workdir / f"{name}-{len(self.processes)}.log"
        handle = log.open("wb")
        popen = subprocess.Popen(
            [sys.executable, "-m", "kizuna", *args],
            env=self.env(**(extra or {})),
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=self.workdir,
        )
        process = Process(name, popen, log, port)
        self.processes.append(process)
        return process

    def api(self, port: int | None = None, **extra: str) -> Process:
        port = port or free_port()
        process = self._spawn("api", ["serve", "--port", str(port)], port=port, extra=extra)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.popen.poll() is not None:
                raise RuntimeError(f"api exited:\n{process.tail()}")
            try:
                if http.get(f"{process.url}/healthz", timeout=1).status_code == 200:
                    return process
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"api did not start:\n{process.tail()}")

    def worker(self, pool: str = "solo", metrics_port: int | None = None, **extra: str) -> Process:
        args = ["worker", "--pool", pool, "--concurrency", "1", "--loglevel", "WARNING"]
        if metrics_port is not None:
            args += ["--metrics-port", str(metrics_port)]
        return self._spawn("worker", args, port=metrics_port, extra=extra)

    def beat(self) -> Process:
        return self._spawn("beat", ["beat", "--loglevel", "WARNING"])

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()
        self.database.dispose()

    # -- data -------------------------------------------------------------------------------

    def bulk_subscribers(
        self, count: int, bbox: tuple[float, float, float, float], seed: int = 1
    ) -> list[str]:
        """Insert `count` residents at random points in `bbox` straight into the database."""
        rng = np.random.default_rng(seed)
        lons = rng.uniform(bbox[0], bbox[2], count)
        lats = rng.uniform(bbox[1], bbox[3], count)
        ids = [new_id() for _ in range(count)]
        with self.database.session() as session:
            for start in range(0, count, 5000):
                part = range(start, min(count, start + 5000))
                session.execute(
                    insert(Subscription),
                    [
                        {
                            "id": ids[i],
                            "token_hash": ids[i].replace("-", "") * 2,
                            "languages": ["ja"],
                        }
                        for i in part
                    ],
                )
                session.execute(
                    insert(SubscriptionPlace),
                    [
                        {
                            "subscription_id": ids[i],
                            "position": 0,
                            "label": "home",
                            "lon": float(lons[i]),
                            "lat": float(lats[i]),
                        }
                        for i in part
                    ],
                )
        return ids

    def delivery_rows(self) -> list[tuple[str, str, str]]:
        with self.database.session() as session:
            return [
                (r[0], r[1], r[2])
                for r in session.execute(
                    select(Delivery.alert_version_id, Delivery.subscription_id, Delivery.channel)
                )
            ]

    def delivery_count(self) -> int:
        with self.database.session() as session:
            return int(session.scalar(select(func.count()).select_from(Delivery)) or 0)


def login(url: str, username: str = "officer-a", password: str = "correct-horse-battery") -> str:
    response = http.post(
        f"{url}/api/v1/auth/token", data={"username": username, "password": password}, timeout=30
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


def issue(url: str, body: dict[str, Any], username: str = "officer-a") -> httpx.Response:
    headers = {"Authorization": f"Bearer {login(url, username)}"}
    created = http.post(f"{url}/api/v1/alerts", json=body, headers=headers, timeout=30)
    created.raise_for_status()
    return http.post(
        f"{url}/api/v1/alerts/{created.json()['id']}/issue", headers=headers, timeout=60
    )


def subscribe(url: str, lon: float, lat: float) -> dict[str, Any]:
    response = http.post(
        f"{url}/api/v1/subscriptions",
        json={"places": [{"lon": lon, "lat": lat}], "languages": ["en"]},
        timeout=30,
    )
    response.raise_for_status()
    return dict(response.json())


def wait_until(
    predicate: Callable[[], bool],
    timeout: float,
    what: str,
    diagnostics: Callable[[], str] = lambda: "",
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {timeout}s\n{diagnostics()}")


async def _listen(
    url: str, token: str, inbox: list[dict[str, Any]], ready: asyncio.Event, stop: asyncio.Event
) -> None:
    from websockets.asyncio.client import connect

    async with connect(f"{url}/ws/alerts?token={token}", open_timeout=30) as socket:
        hello = json.loads(await socket.recv())
        assert hello["type"] == "hello"
        ready.set()
        while not stop.is_set():
            try:
                message = json.loads(await asyncio.wait_for(socket.recv(), timeout=0.5))
            except TimeoutError:
                continue
            if message.get("type") == "alert":
                inbox.append(message)


def residents_receive(
    connections: list[tuple[str, str]],
    action: Callable[[], Any],
    done: Callable[[dict[str, list[dict[str, Any]]]], bool],
    timeout: float = 60,
    quiet: float = 3.0,
) -> dict[str, list[dict[str, Any]]]:
    """Connect real WebSocket residents ((ws base url, token) pairs), run `action`, and collect
    alert messages until `done(inbox)` holds, then for `quiet` seconds more to catch doubles."""

    async def run() -> dict[str, list[dict[str, Any]]]:
        inbox: dict[str, list[dict[str, Any]]] = {token: [] for _, token in connections}
        stop = asyncio.Event()
        readies = [asyncio.Event() for _ in connections]
        tasks = [
            asyncio.create_task(_listen(url, token, inbox[token], ready, stop))
            for (url, token), ready in zip(connections, readies, strict=True)
        ]
        await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), timeout=60)
        await asyncio.to_thread(action)
        deadline = time.monotonic() + timeout
        while not done(inbox) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        await asyncio.sleep(quiet)
        stop.set()
        await asyncio.gather(*tasks)
        return inbox

    return asyncio.run(run())
