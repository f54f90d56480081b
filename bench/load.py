"""Load test (`make load`): the API as a real process under a disaster-day mix, loopback only.

At once, against one `kizuna serve` (embedded SQLite by default; `--distributed` for 2 API
processes, a Celery worker, PostgreSQL and a private Redis):

- `--residents` live resident WebSockets (10,000 by default), and a burst of `--alerts`
  alerts issued together: latency from each issue request to each resident's receipt, misses
  and duplicates (both must be 0);
- shelter check-ins at `--checkin-rate` per second for `--checkin-seconds` (open loop);
- dispatch: incidents, call-outs and responders accepting their slots;
- one deliberately slow resident that stops reading: it must be dropped by the server, and
  the others must not wait for it.

Prints p50/p99 latencies, errors (must be 0) and the peak RSS of each process (VmHWM).
Every request goes to 127.0.0.1; every loop is bounded in count and time. Exit code 1 when a
correctness check fails; timings are reported, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import fcntl
import hashlib
import json
import os
import re
import resource
import socket
import struct
import subprocess
import sys
import tempfile
import termios
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import numpy as np  # noqa: E402
from sqlalchemy import insert, select, update  # noqa: E402

from alerts.models import Subscription, SubscriptionPlace  # noqa: E402
from bench.bench_distributed import (  # noqa: E402
    SHARED_KNOBS,
    BenchFailure,
    distributed_cluster,
    log,
    print_table,
    wait_for_workers,
)
from dispatch.models import ResponderProfile  # noqa: E402
from kizuna.auth import hash_password, issue_token  # noqa: E402
from kizuna.db import Database, new_id, utcnow  # noqa: E402
from kizuna.migrate import upgrade  # noqa: E402
from kizuna.models import User  # noqa: E402
from kizuna.settings import Settings  # noqa: E402
from shelters import service as shelter_service  # noqa: E402
from shelters.models import Shelter  # noqa: E402
from shelters.records import ShelterRecord  # noqa: E402
from tests.cluster import SECRET, Process  # noqa: E402
from tests.support import CITY_A, alert_body, free_port, seed_basics  # noqa: E402

INSIDE_BOX = (139.0, 35.0, 139.05, 35.1)  # the default alert_body area: west half of city A
INCIDENT_LON, INCIDENT_LAT, KM = 139.05, 35.05, 0.009
SHELTERS = 20
CONNECT_PARALLEL = 200
RECEIVE_TIMEOUT_S = 90.0
QUIET_S = 2.0
# An answer later than this after the last check-in was due counts as an error. Open loop on a
# machine the generator shares: when the server falls behind, check-ins queue (and are counted in
# the latency percentiles) rather than fail.
ANSWER_GRACE_S = 180.0
# Pongs the slow client never reads: twice the largest kernel send buffer (tcp_wmem max 4 MiB).
SLOW_PING_BYTES = 8_500_000
TCP_ESTABLISHED = 1  # linux/tcp_states.h
# Rate limits protect the public routes from one address; here every client is 127.0.0.1.
LOAD_KNOBS = {
    **SHARED_KNOBS,
    "KIZUNA_SUBSCRIPTION_RATE_LIMIT": "0",
    "KIZUNA_LOGIN_RATE_LIMIT": "0",
    "KIZUNA_TWO_PERSON_RULE": "false",
    "KIZUNA_LOG_LEVEL": "WARNING",
}


# -- measurements ------------------------------------------------------------------------------


@dataclass
class Timings:
    """Latencies of one kind of operation and what went wrong."""

    name: str
    latencies_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)

    def record(self, started: float, ok: bool, error: str = "") -> None:
        self.latencies_ms.append((time.perf_counter() - started) * 1000)
        if not ok:
            self.errors[error or "error"] += 1

    def percentile(self, share: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


def peak_rss_mib(pid: int) -> float:
    """The process's peak resident set (VmHWM), MiB; NaN once it is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return float("nan")
    found = re.search(r"^VmHWM:\s+(\d+) kB", text, re.MULTILINE)
    return int(found.group(1)) / 1024 if found else float("nan")


def raise_open_files_limit(wanted: int) -> int:
    """Raise RLIMIT_NOFILE (children inherit it: the server needs one per client too)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# -- the data ----------------------------------------------------------------------------------


@dataclass
class Seeded:
    tokens: list[str]
    shelter_ids: list[str]
    responder_tokens: dict[str, str]  # user id → bearer token


def seed_load(database: Database, settings: Settings, residents: int, responders: int) -> Seeded:
    """Residents inside the alert area, open shelters and responders, straight into the DB."""
    rng = np.random.default_rng(7)
    lons = rng.uniform(INSIDE_BOX[0] + 0.001, INSIDE_BOX[2] - 0.001, residents)
    lats = rng.uniform(INSIDE_BOX[1] + 0.001, INSIDE_BOX[3] - 0.001, residents)
    tokens = [f"load-{uuid.uuid4().hex}" for _ in range(residents)]
    ids = [new_id() for _ in range(residents)]
    with database.session() as session:
        for start in range(0, residents, 5000):
            part = range(start, min(residents, start + 5000))
            session.execute(
                insert(Subscription),
                [
                    {
                        "id": ids[i],
                        # The gateway looks a token up by its SHA-256, as alerts.service does.
                        "token_hash": hashlib.sha256(tokens[i].encode()).hexdigest(),
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
        records = [
            ShelterRecord(
                source_id=f"load-{n}",
                name=f"避難所 {n}",
                lon=139.005 + (n % 5) * 0.02,
                lat=35.01 + (n // 5) * 0.02,
                municipality_code=CITY_A,
                kind="shelter",
                hazards=["flood", "earthquake"],
                capacity=1_000_000,
            )
            for n in range(SHELTERS)
        ]
        report = shelter_service.upsert_shelters(session, records, "load")
        if report.errors:
            raise BenchFailure(f"shelters not stored: {report.errors}")
        session.execute(update(Shelter).values(status="open"))
        shelter_ids = list(session.scalars(select(Shelter.id)))
        shared_hash = hash_password("load-responder-password", settings)
        responder_tokens: dict[str, str] = {}
        for n in range(responders):
            user = User(
                id=new_id(),
                username=f"load-r{n:04d}",
                password_hash=shared_hash,
                role="responder",
                municipality_codes=[CITY_A],
            )
            session.add(user)
            session.flush()
            session.add(
                ResponderProfile(
                    user_id=user.id,
                    kind="fire_corps",
                    unit="第1分団",
                    municipality_code=CITY_A,
                    skills=["pump_operator"],
                    availability="available",
                    lon=INCIDENT_LON,
                    lat=INCIDENT_LAT + (n % 40) * 0.05 * KM,
                    located_at=utcnow(),
                )
            )
            responder_tokens[user.id] = issue_token(settings, user).access_token
    return Seeded(tokens, shelter_ids, responder_tokens)


# -- the server --------------------------------------------------------------------------------


def embedded_process(workdir: Path) -> Process:
    """One `kizuna serve` on SQLite, no Redis: the embedded default, as a process."""
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("KIZUNA_")}
    environment.update(
        LOAD_KNOBS,
        KIZUNA_DATA_DIR=str(workdir),
        KIZUNA_SECRET_KEY=SECRET,
        PYTHONUNBUFFERED="1",
    )
    log_path = workdir / "embedded.log"
    with log_path.open("wb") as handle:
        popen = subprocess.Popen(
            [sys.executable, "-m", "kizuna", "serve", "--port", str(port)],
            env=environment,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=workdir,
        )
    process = Process("api (embedded)", popen, log_path, port)
    wait_healthy(process)
    return process


def wait_healthy(process: Process, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            raise BenchFailure(f"{process.name} exited:\n{process.tail()}")
        try:
            if httpx.get(f"{process.url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise BenchFailure(f"{process.name} did not start:\n{process.tail()}")


@dataclass
class Deployment:
    mode: str
    database: Database
    settings: Settings
    cluster: Any = None  # tests.cluster.Cluster when distributed
    api_urls: list[str] = field(default_factory=list)
    processes: list[Process] = field(default_factory=list)


@contextmanager
def deployment(distributed: bool) -> Iterator[Deployment]:
    """The system under load, its database reachable for seeding; all torn down after."""
    if distributed:
        with distributed_cluster() as cluster:
            cluster.overrides.update(LOAD_KNOBS)
            # The cluster seeded the basic users already.
            yield Deployment("distributed", cluster.database, cluster.settings, cluster)
        return
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="kizuna-load-")))
        settings = Settings(data_dir=workdir, secret_key=SECRET)
        upgrade(settings)
        database = Database(settings.resolved_database_url)
        stack.callback(database.dispose)
        seed_basics(database, settings)
        deploy = Deployment("embedded", database, settings)
        stack.callback(stop_all, deploy.processes)
        yield deploy


def stop_all(processes: list[Process]) -> None:
    for process in processes:
        process.stop()


def start_processes(deploy: Deployment) -> None:
    """Start the system's processes (after seeding: the API reads what is there)."""
    if deploy.cluster is None:
        process = embedded_process(deploy.settings.data_dir)
        deploy.processes.append(process)
        deploy.api_urls.append(process.url)
        return
    apis = [deploy.cluster.api(), deploy.cluster.api()]
    deploy.cluster.worker()
    wait_for_workers(deploy.cluster, 1)
    deploy.api_urls.extend(api.url for api in apis)
    deploy.processes.extend(deploy.cluster.processes)


# -- residents ---------------------------------------------------------------------------------


@dataclass
class Resident:
    token: str
    url: str
    received: list[tuple[str, float]] = field(default_factory=list)  # (alert id, when)


async def listen(resident: Resident, connected: asyncio.Event, gate: asyncio.Semaphore) -> None:
    """Connect, wait for hello, then timestamp every alert message until cancelled."""
    from websockets.asyncio.client import connect

    async with gate:
        websocket = await connect(
            f"{resident.url}/ws/alerts?token={resident.token}",
            open_timeout=120,
            ping_interval=None,
            max_size=2**22,
        )
        hello = json.loads(await asyncio.wait_for(websocket.recv(), timeout=120))
    try:
        if hello.get("type") != "hello":
            raise BenchFailure(f"expected hello, got {hello}")
        connected.set()
        while True:
            message = json.loads(await websocket.recv())
            if message.get("type") == "alert":
                resident.received.append((str(message["alert_id"]), time.perf_counter()))
    finally:
        await websocket.close()


class SlowResident:
    """A resident on a raw socket with a tiny receive buffer that stops reading: it sends
    WebSocket pings whose pongs it never reads, so the server's buffers towards it fill."""

    def __init__(self, host: str, port: int, token: str) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.settimeout(10)
        self.sock.connect((host, port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                f"GET /ws/alerts?token={token} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        response = b""
        while b"\r\n\r\n" not in response:
            response += self.sock.recv(1)
        if not response.startswith(b"HTTP/1.1 101"):
            raise BenchFailure(f"slow client refused: {response[:80]!r}")
        # Take the hello like any resident: the server is then reading from this socket (and
        # answering its pings) before the client stops reading.
        hello = json.loads(self._frame())
        if hello.get("type") != "hello":
            raise BenchFailure(f"slow client: expected hello, got {hello}")
        self.ended_at: float | None = None

    def _exactly(self, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = self.sock.recv(size - len(data))
            if not chunk:
                raise BenchFailure("slow client: the server closed during the handshake")
            data += chunk
        return data

    def _frame(self) -> bytes:
        """One unmasked server frame's payload (RFC 6455 5.2)."""
        _, second = self._exactly(2)
        size = second & 0x7F
        if size == 126:
            size = int.from_bytes(self._exactly(2), "big")
        elif size == 127:
            size = int.from_bytes(self._exactly(8), "big")
        return self._exactly(size)

    def fill(self, total: int = SLOW_PING_BYTES) -> int:
        """Send pings (125-byte payloads, zero mask) until `total` bytes or the socket blocks."""
        frame = bytes([0x89, 0x80 | 125]) + bytes(4) + b"p" * 125
        batch = frame * 200
        sent = 0
        self.sock.settimeout(2)
        with contextlib.suppress(OSError):
            while sent < total:
                self.sock.sendall(batch)
                sent += len(batch)
        # sendall returns once the kernel holds the bytes; the pongs fill the server's buffers
        # only once the server has read them all: wait until none is left unacknowledged.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            unsent = struct.unpack("i", fcntl.ioctl(self.sock, termios.TIOCOUTQ, b"\0" * 4))[0]
            if unsent == 0:
                break
            time.sleep(0.1)
        return sent

    def wait_end(self, timeout: float) -> bool:
        """True once the server closed or reset the connection. Reads nothing: reading would
        drain the pongs and make this client fast again. Watches the TCP state instead."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            tcp_info = self.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)
            if tcp_info[0] != TCP_ESTABLISHED:  # tcpi_state: FIN or RST from the server
                self.ended_at = time.perf_counter()
                return True
            time.sleep(0.1)
        return False

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


# -- the run -----------------------------------------------------------------------------------


@dataclass
class Options:
    residents: int
    alerts: int
    checkin_rate: float
    checkin_seconds: float
    dispatches: int
    needed: int
    distributed: bool
    burst_at_s: float
    idempotency_keys: bool


@dataclass
class Outcome:
    connect_s: float = 0.0
    connected: int = 0
    alert_latency: Timings = field(default_factory=lambda: Timings("alert issue → received"))
    issue: Timings = field(default_factory=lambda: Timings("issue request"))
    checkin: Timings = field(default_factory=lambda: Timings("shelter check-in"))
    incident: Timings = field(default_factory=lambda: Timings("create incident"))
    dispatch: Timings = field(default_factory=lambda: Timings("create dispatch"))
    response: Timings = field(default_factory=lambda: Timings("responder accepts"))
    checkins_sent: int = 0
    checkin_wall_s: float = 0.0
    misses: int = 0
    duplicates: int = 0
    foreign: int = 0
    slow_dropped: bool = False
    slow_drop_after_s: float = float("nan")
    slow_log: str = ""
    rss: dict[str, float] = field(default_factory=dict)


async def officer_headers(url: str) -> dict[str, str]:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        response = await client.post(
            "/api/v1/auth/token", data={"username": "officer-a", "password": _password()}
        )
        if response.status_code != 200:
            raise BenchFailure(f"login failed: {response.status_code} {response.text}")
        return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _password() -> str:
    from tests.support import PASSWORD

    return PASSWORD


def idempotency(n: int, options: Options) -> dict[str, str]:
    """The key a manager's phone sends with a tap, when asked for (`--idempotency-keys`)."""
    return {"Idempotency-Key": f"load-{n}-{uuid.uuid4().hex}"} if options.idempotency_keys else {}


async def check_ins(
    url: str, headers: dict[str, str], shelters: list[str], options: Options, outcome: Outcome
) -> None:
    """Open loop: one check-in every 1/rate s, whatever the answers' speed (bounded count)."""
    total = int(options.checkin_rate * options.checkin_seconds)
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=url, timeout=ANSWER_GRACE_S, limits=limits) as client:
        # httpx's pool scans every waiting request on each change: thousands of them pile up
        # when the server falls behind, so they wait here instead (counted in their latency).
        gate = asyncio.Semaphore(64)

        async def one(n: int, started: float) -> None:
            try:
                async with gate:
                    response = await client.post(
                        f"/api/v1/shelters/{shelters[n % len(shelters)]}/occupancy",
                        json={"delta": 1},
                        headers={**headers, **idempotency(n, options)},
                    )
                outcome.checkin.record(
                    started, response.status_code == 200, f"HTTP {response.status_code}"
                )
            except httpx.HTTPError as exc:
                outcome.checkin.record(started, False, type(exc).__name__)

        began = time.perf_counter()
        tasks = []
        for n in range(total):
            delay = began + n / options.checkin_rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            # Latency from when the request was due: an open loop does not wait for answers.
            tasks.append(asyncio.create_task(one(n, began + n / options.checkin_rate)))
        outcome.checkins_sent = total
        outcome.checkin_wall_s = time.perf_counter() - began  # sending only, not the answers
        # Bounded: what has no answer ANSWER_GRACE_S after the last was due is an error.
        _, late = await asyncio.wait(tasks, timeout=ANSWER_GRACE_S)
        for task in late:
            task.cancel()
        outcome.checkin.errors["no answer in time"] += len(late)


async def dispatches(
    url: str,
    headers: dict[str, str],
    responder_tokens: dict[str, str],
    options: Options,
    outcome: Outcome,
) -> None:
    """Incidents spread over the check-in window; each call-out filled by fresh responders."""
    used: set[str] = set()
    interval = options.checkin_seconds / max(1, options.dispatches)
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:

        async def post(timings: Timings, path: str, expect: int, **kwargs: Any) -> Any:
            """POST and record; the JSON answer, or None when it failed."""
            started = time.perf_counter()
            try:
                response = await client.post(path, **kwargs)
            except httpx.HTTPError as exc:
                timings.record(started, False, type(exc).__name__)
                return None
            ok = response.status_code == expect
            timings.record(started, ok, f"HTTP {response.status_code}")
            return response.json() if ok else None

        for n in range(options.dispatches):
            began = time.perf_counter()
            incident = await post(
                outcome.incident,
                "/api/v1/incidents",
                201,
                json={
                    "kind": "fire",
                    "description": f"建物火災 {n}",
                    "lon": INCIDENT_LON,
                    "lat": INCIDENT_LAT,
                    "municipality_code": CITY_A,
                },
                headers=headers,
            )
            created = incident and await post(
                outcome.dispatch,
                f"/api/v1/incidents/{incident['id']}/dispatches",
                201,
                json={
                    "needed": options.needed,
                    "skills": ["pump_operator"],
                    "radius_m": 3000,
                    "respond_within_s": 600,
                    "escalate_after_s": 600,
                },
                headers=headers,
            )
            if created:
                offered = [o["responder_id"] for o in created["offered"]]
                chosen = [r for r in offered if r not in used and r in responder_tokens]
                chosen = chosen[: options.needed]
                if len(chosen) < options.needed:
                    outcome.response.errors["too few offered"] += options.needed - len(chosen)
                used.update(chosen)
                await asyncio.gather(
                    *(
                        post(
                            outcome.response,
                            f"/api/v1/dispatches/{created['id']}/responses",
                            200,
                            json={"accept": True, "eta_min": 8},
                            headers={"Authorization": f"Bearer {responder_tokens[r]}"},
                        )
                        for r in chosen
                    )
                )
            rest = interval - (time.perf_counter() - began)
            if rest > 0:
                await asyncio.sleep(rest)


async def draft_alerts(url: str, headers: dict[str, str], count: int) -> list[str]:
    """The alerts of the burst, drafted before the load starts."""
    drafts = []
    async with httpx.AsyncClient(base_url=url, timeout=120, headers=headers) as client:
        for n in range(count):
            created = await client.post(
                "/api/v1/alerts", json=alert_body(evacuation_level=3 + n % 3)
            )
            if created.status_code != 201:
                raise BenchFailure(f"draft failed: {created.status_code} {created.text}")
            drafts.append(str(created.json()["id"]))
    return drafts


async def alert_burst(
    url: str, headers: dict[str, str], drafts: list[str], options: Options, outcome: Outcome
) -> dict[str, float]:
    """Every issue request at once. Returns alert id → when its issue request was sent."""
    issued_at: dict[str, float] = {}
    async with httpx.AsyncClient(base_url=url, timeout=120, headers=headers) as client:

        async def issue(alert_id: str) -> None:
            started = time.perf_counter()
            issued_at[alert_id] = started
            try:
                response = await client.post(f"/api/v1/alerts/{alert_id}/issue")
            except httpx.HTTPError as exc:
                outcome.issue.record(started, False, type(exc).__name__)
                return
            outcome.issue.record(
                started, response.status_code == 200, f"HTTP {response.status_code}"
            )

        await asyncio.sleep(options.burst_at_s)
        await asyncio.gather(*(issue(a) for a in drafts))
    return issued_at


async def run(deploy: Deployment, seeded: Seeded, options: Options, outcome: Outcome) -> None:
    api = deploy.api_urls
    residents = [
        Resident(token, api[i % len(api)].replace("http://", "ws://"))
        for i, token in enumerate(seeded.tokens)
    ]
    slow_token = residents.pop().token  # one of the seeded residents becomes the slow one

    started = time.monotonic()
    gate = asyncio.Semaphore(CONNECT_PARALLEL)
    events = [asyncio.Event() for _ in residents]
    tasks = [
        asyncio.create_task(listen(resident, event, gate))
        for resident, event in zip(residents, events, strict=True)
    ]
    try:
        deadline = time.monotonic() + 240
        while not all(event.is_set() for event in events):
            failed = [t for t in tasks if t.done()]
            if failed:
                raise BenchFailure(f"a resident failed to connect: {failed[0].exception()!r}")
            if time.monotonic() > deadline:
                done = sum(event.is_set() for event in events)
                raise BenchFailure(f"only {done:,} residents connected within 240 s")
            await asyncio.sleep(0.2)
        outcome.connect_s = time.monotonic() - started
        outcome.connected = len(residents)
        log(f"{len(residents):,} residents connected in {outcome.connect_s:.1f}s")

        host, port = "127.0.0.1", int(api[0].rsplit(":", 1)[1])
        slow = await asyncio.to_thread(SlowResident, host, port, slow_token)
        filled = await asyncio.to_thread(slow.fill)
        log(f"slow resident connected, sent {filled / 1e6:.1f} MB of pings it will not read")

        headers = await officer_headers(api[0])
        drafts = await draft_alerts(api[0], headers, options.alerts)
        responders = seeded.responder_tokens
        burst = asyncio.create_task(alert_burst(api[0], headers, drafts, options, outcome))
        load = [
            asyncio.create_task(check_ins(api[0], headers, seeded.shelter_ids, options, outcome)),
            asyncio.create_task(dispatches(api[-1], headers, responders, options, outcome)),
        ]
        issued_at = await burst
        burst_done = time.perf_counter()
        slow_end = asyncio.create_task(asyncio.to_thread(slow.wait_end, 60.0))
        expected = set(issued_at)
        deadline = time.monotonic() + RECEIVE_TIMEOUT_S
        while time.monotonic() < deadline:
            if all(len({a for a, _ in r.received}) >= len(expected) for r in residents):
                break
            await asyncio.sleep(0.1)
        await asyncio.gather(*load)
        await asyncio.sleep(QUIET_S)
        outcome.slow_dropped = await slow_end
        if slow.ended_at is not None:
            outcome.slow_drop_after_s = slow.ended_at - burst_done
        slow.close()
        for process in deploy.processes:
            name = f"{process.name} (pid {process.popen.pid})"
            outcome.rss[name] = peak_rss_mib(process.popen.pid)
            lines = [
                line
                for line in process.log.read_text(errors="replace").splitlines()
                if "dropping a" in line
            ]
            if lines:
                outcome.slow_log = lines[0][-120:]
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    for resident in residents:
        counts = Counter(alert for alert, _ in resident.received)
        outcome.misses += sum(1 for alert in expected if counts[alert] == 0)
        outcome.duplicates += sum(n - 1 for n in counts.values() if n > 1)
        outcome.foreign += sum(n for alert, n in counts.items() if alert not in expected)
        for alert, when in resident.received:
            if alert in issued_at:
                outcome.alert_latency.latencies_ms.append((when - issued_at[alert]) * 1000)


def report(deploy: Deployment, options: Options, outcome: Outcome) -> list[str]:
    failures: list[str] = []
    expected = outcome.connected * options.alerts
    rows = []
    for timings in (
        outcome.alert_latency,
        outcome.issue,
        outcome.checkin,
        outcome.incident,
        outcome.dispatch,
        outcome.response,
    ):
        rows.append(
            [
                timings.name,
                f"{len(timings.latencies_ms):,}",
                f"{timings.percentile(0.5):.0f}",
                f"{timings.percentile(0.99):.0f}",
                f"{max(timings.latencies_ms, default=float('nan')):.0f}",
                f"{timings.error_count}",
            ]
        )
        if timings.error_count:
            failures.append(f"{timings.name}: {dict(timings.errors)}")
    print_table(
        f"Load ({deploy.mode}): {outcome.connected:,} residents live, burst of "
        f"{options.alerts} alerts, check-ins at {options.checkin_rate:.0f}/s for "
        f"{options.checkin_seconds:.0f}s, {options.dispatches} call-outs",
        ["operation", "count", "p50 ms", "p99 ms", "max ms", "errors"],
        rows,
    )
    rate = outcome.checkins_sent / outcome.checkin_wall_s if outcome.checkin_wall_s else 0.0
    facts = [
        ["residents connected", f"{outcome.connected:,} in {outcome.connect_s:.1f} s"],
        ["alert messages received", f"{len(outcome.alert_latency.latencies_ms):,} / {expected:,}"],
        ["missed (resident, alert)", f"{outcome.misses:,}"],
        ["duplicates", f"{outcome.duplicates:,}"],
        ["check-ins offered / s", f"{rate:.1f}"],
        [
            "slow resident",
            (
                f"dropped {outcome.slow_drop_after_s:.1f} s after the burst"
                if outcome.slow_dropped
                else "NOT dropped"
            ),
        ],
        ["server log", outcome.slow_log or "(no drop logged)"],
        *[[f"peak RSS {name}", f"{mib:,.0f} MiB"] for name, mib in outcome.rss.items()],
        ["peak RSS load generator", f"{peak_rss_mib(os.getpid()):,.0f} MiB"],
    ]
    print_table("Load: correctness and memory", ["measure", "value"], facts, left=2)
    if outcome.misses or outcome.duplicates or outcome.foreign:
        failures.append(
            f"alerts: {outcome.misses} missed, {outcome.duplicates} duplicated, "
            f"{outcome.foreign} unexpected"
        )
    if not outcome.slow_dropped:
        failures.append("the slow resident was not dropped")
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=10_000)
    parser.add_argument("--alerts", type=int, default=5)
    parser.add_argument("--checkin-rate", type=float, default=200.0)
    parser.add_argument("--checkin-seconds", type=float, default=30.0)
    parser.add_argument("--dispatches", type=int, default=20)
    parser.add_argument("--needed", type=int, default=3)
    parser.add_argument("--burst-at", type=float, default=5.0, help="s into the check-ins")
    parser.add_argument("--distributed", action="store_true")
    parser.add_argument(
        "--idempotency-keys", action="store_true", help="check-ins carry an Idempotency-Key"
    )
    args = parser.parse_args(argv)
    options = Options(
        residents=args.residents + 1,  # + the slow one
        alerts=args.alerts,
        checkin_rate=args.checkin_rate,
        checkin_seconds=args.checkin_seconds,
        dispatches=args.dispatches,
        needed=args.needed,
        distributed=args.distributed,
        burst_at_s=args.burst_at,
        idempotency_keys=args.idempotency_keys,
    )
    if not all(
        value > 0
        for value in (args.residents, args.alerts, args.checkin_rate, args.checkin_seconds)
    ) or (args.dispatches < 0 or args.needed < 1):
        parser.error("counts and rates must be positive")
    # One socket per resident in this process, and one in the server (which inherits it).
    limit = raise_open_files_limit(options.residents + 4096)
    if limit < options.residents + 512:
        print(f"FAIL: open-files limit {limit} is too low for {options.residents:,} clients")
        return 1
    wall = time.monotonic()
    outcome = Outcome()
    with deployment(options.distributed) as deploy:
        started = time.monotonic()
        seeded = seed_load(
            deploy.database, deploy.settings, options.residents, options.dispatches * args.needed
        )
        log(f"seeded {options.residents:,} residents in {time.monotonic() - started:.1f}s")
        start_processes(deploy)
        try:
            asyncio.run(run(deploy, seeded, options, outcome))
        except BaseException:
            for process in deploy.processes:
                kept = Path(tempfile.gettempdir()) / f"kizuna-load-{process.popen.pid}.log"
                kept.write_bytes(process.log.read_bytes())
                print(f"--- {process.name} (whole log: {kept})\n{process.tail()}", file=sys.stderr)
            raise
        failures = report(deploy, options, outcome)
    print(f"wall time {time.monotonic() - wall:.0f}s")
    for failure in failures:
        print(f"FAIL: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
