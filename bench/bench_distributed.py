"""Benchmark the distributed deployment against the embedded default, with real processes.

1. Fan-out of one alert to 100,000 targeted residents through Celery, with 1 and 2 workers.
2. End-to-end latency from the issue request to each of 2,000 live WebSocket residents, for the
   embedded mode (one `kizuna serve`, SQLite, no Redis) and the distributed mode (2 API
   processes, 1 worker, PostgreSQL and a private Redis).

Needs PostgreSQL at 127.0.0.1:5432 (KIZUNA_TEST_PG) and a redis-server binary. Only counts are
checked; timings are printed, never asserted.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from celery import Celery  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from alerts.models import AlertVersion, Delivery, FanoutChunk  # noqa: E402
from kizuna.db import Database  # noqa: E402
from kizuna.migrate import upgrade  # noqa: E402
from kizuna.settings import Settings  # noqa: E402
from tests.cluster import SECRET, Cluster, Process, issue, login  # noqa: E402
from tests.services import PrivateRedis, fresh_database, postgres_reason  # noqa: E402
from tests.support import alert_body, free_port, seed_basics  # noqa: E402

FANOUT_RECIPIENTS = 100_000
FANOUT_CHUNK = "1000"
INSIDE_BOX = (139.0, 35.0, 139.05, 35.1)  # the default alert_body area: west half of city A
LIVE_CLIENTS = 2_000
CONNECT_PARALLEL = 100
SUBSCRIBE_PARALLEL = 32
FANOUT_TIMEOUT_S = 90.0
COMPLETION_GRACE_S = 3.0
RECEIVE_TIMEOUT_S = 90.0
QUIET_S = 2.0  # listen this long after the last expected message, to catch doubles
# The timer knobs tests.cluster gives every process, given to the embedded server as well so
# both modes sweep and relay on the same schedule.
SHARED_KNOBS = {
    "KIZUNA_FANOUT_GRACE_S": "3",
    "KIZUNA_RECONCILE_INTERVAL_S": "1",
    "KIZUNA_DELIVERY_SWEEP_INTERVAL_S": "1",
    "KIZUNA_OUTBOX_POLL_INTERVAL_S": "0.5",
    "KIZUNA_EXPIRY_CHECK_INTERVAL_S": "2",
}


class BenchFailure(Exception):
    """A correctness check failed: the run exits non-zero."""


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@contextmanager
def distributed_cluster() -> Iterator[Cluster]:
    """A temp dir, a fresh PostgreSQL database, a private Redis and a Cluster; all torn down."""
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="kizuna-bench-")))
        database_url = stack.enter_context(fresh_database())
        redis = PrivateRedis(free_port(), workdir)
        stack.callback(redis.stop)
        redis.start()
        cluster = Cluster(workdir, database_url, redis.url)
        # Callbacks run last-in first-out: processes stop, then Redis, then the database goes.
        stack.callback(cluster.stop)
        cluster.overrides.update(KIZUNA_FANOUT_CHUNK_SIZE=FANOUT_CHUNK)
        yield cluster


def wait_for_workers(cluster: Cluster, count: int, timeout: float = 60) -> None:
    """Until `count` Celery workers answer a control ping (they consume the queue by then)."""
    app = Celery("bench-ping", broker=cluster.redis_url, set_as_current=False)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            for process in cluster.processes:
                if process.popen.poll() is not None:
                    raise BenchFailure(f"{process.name} exited:\n{process.tail()}")
            if len(app.control.ping(timeout=1.0) or []) >= count:
                return
        raise BenchFailure(f"{count} workers did not answer a ping within {timeout}s")
    finally:
        app.close()


# -- 1. fan-out throughput ---------------------------------------------------------------------


@dataclass
class FanoutResult:
    workers: int
    targeted: int
    rows: int
    chunks_done: int
    chunks_total: int
    issue_request_s: float
    to_last_row_s: float
    to_completed_s: float
    problems: list[str] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.rows / self.to_last_row_s if self.to_last_row_s > 0 else float("nan")


def fanout_run(workers: int) -> FanoutResult:
    """Issue one alert to FANOUT_RECIPIENTS residents and time its chunked fan-out."""
    with distributed_cluster() as cluster:
        api = cluster.api()
        for _ in range(workers):
            cluster.worker()
        started = time.monotonic()
        cluster.bulk_subscribers(FANOUT_RECIPIENTS, INSIDE_BOX, seed=workers)
        log(
            f"fan-out x{workers}: {FANOUT_RECIPIENTS:,} residents inserted in "
            f"{time.monotonic() - started:.1f}s"
        )
        wait_for_workers(cluster, workers)
        request_started = time.monotonic()
        response = issue(api.url, alert_body())
        returned_at = datetime.now(UTC)
        issue_request_s = time.monotonic() - request_started
        if response.status_code != 200:
            raise BenchFailure(f"issue failed: {response.status_code} {response.text}")
        targeted = int(response.json()["recipients"])
        completed_at, chunks_left, settled_at = None, None, None
        deadline = time.monotonic() + FANOUT_TIMEOUT_S
        while time.monotonic() < deadline:
            completed_at, chunks_left = fanout_progress(cluster)
            if completed_at is not None:
                break
            if chunks_left == 0:
                # Every chunk is done: completion should be recorded by the same commit.
                settled_at = settled_at or time.monotonic()
                if time.monotonic() - settled_at > COMPLETION_GRACE_S:
                    break
            time.sleep(0.1)
        problems: list[str] = []
        if completed_at is None and chunks_left != 0:
            tails = "\n".join(p.tail(20) for p in cluster.processes if p.name == "worker")
            raise BenchFailure(
                f"fan-out x{workers}: {chunks_left} chunks not done within {FANOUT_TIMEOUT_S}s "
                f"({cluster.delivery_count():,} rows)\n{tails}"
            )
        with cluster.database.session() as session:
            rows, distinct, last_row = session.execute(
                select(
                    func.count(),
                    func.count(func.distinct(Delivery.subscription_id)),
                    func.max(Delivery.created_at),
                )
            ).one()
            done_times = list(
                session.scalars(
                    select(FanoutChunk.done_at)
                    .where(FanoutChunk.done_at.is_not(None))
                    .order_by(FanoutChunk.done_at.desc())
                )
            )
            chunks_total = int(session.scalar(select(AlertVersion.chunks_total)) or 0)
        assert isinstance(last_row, datetime)
        if completed_at is None:
            last_two = [t.strftime("%H:%M:%S.%f") for t in done_times[:2] if t]
            problems.append(
                f"fan-out x{workers}: all {len(done_times)}/{chunks_total} chunks done and "
                f"{int(rows):,} rows written, but alert_versions.fanout_completed_at is still "
                f"NULL {COMPLETION_GRACE_S:.0f}s later (last two chunks done at {last_two})"
            )
        result = FanoutResult(
            workers=workers,
            targeted=targeted,
            rows=int(rows),
            chunks_done=len(done_times),
            chunks_total=chunks_total,
            issue_request_s=issue_request_s,
            to_last_row_s=(last_row - returned_at).total_seconds(),
            to_completed_s=(
                (completed_at - returned_at).total_seconds() if completed_at else float("nan")
            ),
            problems=problems,
        )
        log(f"fan-out x{workers}: {result.rows:,} rows in {result.to_last_row_s:.2f}s")
        if not (targeted == FANOUT_RECIPIENTS == result.rows == int(distinct)):
            problems.append(
                f"fan-out x{workers}: targeted {targeted:,}, rows {result.rows:,}, "
                f"distinct {int(distinct):,}; expected {FANOUT_RECIPIENTS:,} of each"
            )
        return result


def fanout_progress(cluster: Cluster) -> tuple[datetime | None, int | None]:
    """The version's fanout_completed_at, and how many of its chunks are not done (None before
    the chunks exist)."""
    with cluster.database.session() as session:
        completed_at, chunks_total = session.execute(
            select(AlertVersion.fanout_completed_at, AlertVersion.chunks_total)
        ).one()
        if chunks_total is None:
            return completed_at, None
        left = session.scalar(
            select(func.count()).select_from(FanoutChunk).where(FanoutChunk.done_at.is_(None))
        )
        return completed_at, int(left or 0)


# -- 2. end-to-end latency to live residents ---------------------------------------------------


@dataclass
class Listener:
    """One resident's WebSocket: when its first alert message arrived and how many came."""

    url: str
    token: str
    received_at: float | None = None
    alerts: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class LatencyResult:
    mode: str
    clients: int
    targeted: int
    latencies_ms: list[float]
    doubles: int
    wrong_alert: int
    issue_request_ms: float
    sent_state: dict[str, Any]

    @property
    def received(self) -> int:
        return len(self.latencies_ms)

    def percentile(self, share: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


async def create_subscriptions(api_urls: list[str], count: int) -> list[Listener]:
    """`count` residents inside the alert area, registered round-robin through the APIs."""
    semaphore = asyncio.Semaphore(SUBSCRIBE_PARALLEL)
    async with httpx.AsyncClient(timeout=60) as client:

        async def one(i: int) -> Listener:
            url = api_urls[i % len(api_urls)]
            lon = 139.0005 + (i % 50) * 0.0009  # a 50 x 40 grid inside lon 139.0-139.05
            lat = 35.001 + (i // 50) * 0.0024
            async with semaphore:
                response = await client.post(
                    f"{url}/api/v1/subscriptions",
                    json={
                        "places": [{"label": "home", "lon": lon, "lat": lat}],
                        "languages": ["ja", "en"],
                    },
                )
            if response.status_code != 201:
                raise BenchFailure(f"subscribe failed: {response.status_code} {response.text}")
            return Listener(url.replace("http://", "ws://"), str(response.json()["token"]))

        return list(await asyncio.gather(*(one(i) for i in range(count))))


async def listen(listener: Listener, connected: asyncio.Event, gate: asyncio.Semaphore) -> None:
    """Connect, wait for hello, then timestamp every alert message until cancelled."""
    from websockets.asyncio.client import connect

    async with gate:
        socket = await connect(
            f"{listener.url}/ws/alerts?token={listener.token}", open_timeout=60, max_size=2**22
        )
        hello = json.loads(await asyncio.wait_for(socket.recv(), timeout=60))
    try:
        if hello.get("type") != "hello":
            raise BenchFailure(f"expected hello, got {hello}")
        connected.set()
        while True:
            message = json.loads(await socket.recv())
            if message.get("type") != "alert":
                continue
            if listener.received_at is None:
                listener.received_at = time.perf_counter()
            listener.alerts.append(message)
    finally:
        await socket.close()


async def measure_live(mode: str, api_urls: list[str], officer_url: str) -> LatencyResult:
    """Register LIVE_CLIENTS residents, connect them all, issue one alert, time each arrival."""
    started = time.monotonic()
    listeners = await create_subscriptions(api_urls, LIVE_CLIENTS)
    log(f"{mode}: {LIVE_CLIENTS:,} subscriptions in {time.monotonic() - started:.1f}s")

    token = await asyncio.to_thread(login, officer_url)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=officer_url, timeout=120, headers=headers) as client:
        created = await client.post("/api/v1/alerts", json=alert_body())
        if created.status_code != 201:
            raise BenchFailure(f"draft failed: {created.status_code} {created.text}")
        alert_id = str(created.json()["id"])

        started = time.monotonic()
        gate = asyncio.Semaphore(CONNECT_PARALLEL)
        events = [asyncio.Event() for _ in listeners]
        tasks = [
            asyncio.create_task(listen(listener, event, gate))
            for listener, event in zip(listeners, events, strict=True)
        ]
        try:
            deadline = time.monotonic() + 120
            while not all(event.is_set() for event in events):
                stopped = [task for task in tasks if task.done()]
                if stopped:
                    raise BenchFailure(f"{mode}: a client failed: {stopped[0].exception()!r}")
                if time.monotonic() > deadline:
                    raise BenchFailure(f"{mode}: clients not all connected within 120s")
                await asyncio.sleep(0.1)
            log(f"{mode}: {LIVE_CLIENTS:,} clients connected in {time.monotonic() - started:.1f}s")
            await asyncio.sleep(0.5)  # let the last registrations settle in the hubs

            sent_at = time.perf_counter()
            response = await client.post(f"/api/v1/alerts/{alert_id}/issue")
            issue_request_ms = (time.perf_counter() - sent_at) * 1000
            if response.status_code != 200:
                raise BenchFailure(f"{mode}: issue failed {response.status_code} {response.text}")
            targeted = int(response.json()["recipients"])
            deadline = time.monotonic() + RECEIVE_TIMEOUT_S
            while time.monotonic() < deadline:
                if all(listener.received_at is not None for listener in listeners):
                    break
                crashed = [t for t in tasks if t.done()]
                if crashed:
                    raise BenchFailure(f"{mode}: a client stopped: {crashed[0].exception()!r}")
                await asyncio.sleep(0.05)
            await asyncio.sleep(QUIET_S)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        state = await client.get(f"/api/v1/alerts/{alert_id}/deliveries")
        sent_state = dict(state.json()) if state.status_code == 200 else {"error": state.text}

    latencies = [
        (listener.received_at - sent_at) * 1000
        for listener in listeners
        if listener.received_at is not None
    ]
    return LatencyResult(
        mode=mode,
        clients=len(listeners),
        targeted=targeted,
        latencies_ms=latencies,
        doubles=sum(1 for listener in listeners if len(listener.alerts) > 1),
        wrong_alert=sum(
            1 for listener in listeners for m in listener.alerts if m.get("alert_id") != alert_id
        ),
        issue_request_ms=issue_request_ms,
        sent_state=sent_state,
    )


def embedded_server(workdir: Path) -> Process:
    """One `kizuna serve` on SQLite with no Redis: the embedded default, as a process."""
    settings = Settings(data_dir=workdir, secret_key=SECRET)
    upgrade(settings)
    database = Database(settings.resolved_database_url)
    try:
        seed_basics(database, settings)
    finally:
        database.dispose()
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("KIZUNA_")}
    environment.update(
        SHARED_KNOBS,
        KIZUNA_DATA_DIR=str(workdir),
        KIZUNA_SECRET_KEY=SECRET,
        KIZUNA_TWO_PERSON_RULE="false",
        KIZUNA_SUBSCRIPTION_RATE_LIMIT="0",
        KIZUNA_LOGIN_RATE_LIMIT="0",
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
    process = Process("embedded", popen, log_path, port)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if popen.poll() is not None:
            raise BenchFailure(f"embedded server exited:\n{process.tail()}")
        try:
            if httpx.get(f"{process.url}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.stop()
    raise BenchFailure(f"embedded server did not start:\n{process.tail()}")


def latency_embedded() -> LatencyResult:
    with tempfile.TemporaryDirectory(prefix="kizuna-bench-") as tmp:
        server = embedded_server(Path(tmp))
        try:
            return asyncio.run(measure_live("embedded", [server.url], server.url))
        except BaseException:
            print(server.tail(), file=sys.stderr)
            raise
        finally:
            server.stop()


def latency_distributed() -> LatencyResult:
    with distributed_cluster() as cluster:
        apis = [cluster.api(), cluster.api()]
        cluster.worker()
        wait_for_workers(cluster, 1)
        try:
            return asyncio.run(measure_live("distributed", [api.url for api in apis], apis[0].url))
        except BaseException:
            for process in cluster.processes:
                print(f"--- {process.name} {process.log.name}\n{process.tail()}", file=sys.stderr)
            raise


# -- report ------------------------------------------------------------------------------------


def print_table(title: str, columns: list[str], rows: list[list[str]], left: int = 1) -> None:
    """A rich table (plain text without rich); the first `left` columns are left-justified."""
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        print(title)
        widths = [max(len(str(c)) for c in column) for column in zip(columns, *rows, strict=True)]
        for row in [columns, *rows]:
            print("  ".join(f"{cell:<{width}}" for cell, width in zip(row, widths, strict=True)))
        return
    table = Table(title=title)
    for i, column in enumerate(columns):
        table.add_column(column, justify="left" if i < left else "right")
    for row in rows:
        table.add_row(*row)
    Console(width=120).print(table)


def states(deliveries: dict[str, Any]) -> str:
    """The websocket channel's delivery states from GET /alerts/{id}/deliveries, compactly."""
    channel = deliveries.get("channels", {}).get("websocket")
    if not isinstance(channel, dict):
        return str(deliveries)[:60]
    return " ".join(f"{state} {count:,}" for state, count in channel.items() if count)


def ratio(numerator: float, denominator: float) -> str:
    return f"{numerator / denominator:.2f}x" if denominator else "n/a"


def main() -> int:
    reason = postgres_reason()
    if reason is not None:
        print(f"FAIL: PostgreSQL not available: {reason}", file=sys.stderr)
        return 1
    wall = time.monotonic()
    failures: list[str] = []
    fanouts: list[FanoutResult] = []
    latencies: list[LatencyResult] = []
    # A failed phase is reported and the others still run.
    for workers in (1, 2):
        try:
            fanouts.append(fanout_run(workers))
        except BenchFailure as exc:
            failures.append(str(exc))
    for phase in (latency_embedded, latency_distributed):
        try:
            latencies.append(phase())
        except BenchFailure as exc:
            failures.append(str(exc))
    for fanout in fanouts:
        failures.extend(fanout.problems)

    if fanouts:
        print_table(
            f"Fan-out of one alert to {FANOUT_RECIPIENTS:,} residents (Celery, chunks of "
            f"{FANOUT_CHUNK}, PostgreSQL)",
            ["measure", *(f"{f.workers} worker{'s' if f.workers > 1 else ''}" for f in fanouts)],
            [
                ["recipients targeted", *(f"{f.targeted:,}" for f in fanouts)],
                ["delivery rows written", *(f"{f.rows:,}" for f in fanouts)],
                ["chunks done / total", *(f"{f.chunks_done}/{f.chunks_total}" for f in fanouts)],
                ["issue request s (targeting)", *(f"{f.issue_request_s:.2f}" for f in fanouts)],
                ["issue returned → last row s", *(f"{f.to_last_row_s:.2f}" for f in fanouts)],
                [
                    "issue returned → fanout_completed_at s",
                    *(f"{f.to_completed_s:.2f}" for f in fanouts),
                ],
                ["recipients / s", *(f"{f.per_second:,.0f}" for f in fanouts)],
            ],
        )
    for result in latencies:
        if result.received != result.clients:
            failures.append(
                f"{result.mode}: only {result.received:,} of {result.clients:,} clients "
                "received the alert"
            )
        if result.targeted != result.clients:
            failures.append(f"{result.mode}: targeted {result.targeted:,} != {result.clients:,}")
        websocket = result.sent_state.get("channels", {}).get("websocket", {})
        if not isinstance(websocket, dict) or websocket.get("sent") != result.clients:
            failures.append(f"{result.mode}: delivery rows are not all sent: {websocket}")
        if result.doubles or result.wrong_alert:
            failures.append(
                f"{result.mode}: {result.doubles} clients got the alert more than once, "
                f"{result.wrong_alert} messages of another alert"
            )
    if latencies:
        print_table(
            f"Issue request sent → alert received by each of {LIVE_CLIENTS:,} WebSocket residents",
            ["measure", *(r.mode for r in latencies)],
            [
                ["received", *(f"{r.received:,} / {r.clients:,}" for r in latencies)],
                [
                    "min ms",
                    *(f"{min(r.latencies_ms, default=float('nan')):.0f}" for r in latencies),
                ],
                ["p50 ms", *(f"{r.percentile(0.50):.0f}" for r in latencies)],
                ["p99 ms", *(f"{r.percentile(0.99):.0f}" for r in latencies)],
                [
                    "max ms",
                    *(f"{max(r.latencies_ms, default=float('nan')):.0f}" for r in latencies),
                ],
                ["mean ms", *(f"{statistics.fmean(r.latencies_ms or [0]):.0f}" for r in latencies)],
                ["issue request ms", *(f"{r.issue_request_ms:.0f}" for r in latencies)],
                [
                    "delivery rows (GET …/deliveries)",
                    *(states(r.sent_state) for r in latencies),
                ],
            ],
        )

    summary: list[list[str]] = []
    for f in fanouts:
        mode = f"fan-out, {f.workers} worker{'s' if f.workers > 1 else ''}"
        summary.append([mode, "seconds to last delivery row", f"{f.to_last_row_s:.2f}"])
        summary.append([mode, "recipients per second", f"{f.per_second:,.0f}"])
    if len(fanouts) == 2:
        summary.append(
            [
                "fan-out",
                "speed-up 2 workers / 1",
                ratio(fanouts[0].to_last_row_s, fanouts[1].to_last_row_s),
            ]
        )
    for r in latencies:
        summary.append([f"live, {r.mode}", "received", f"{r.received:,} / {r.clients:,}"])
        for name, share in (("p50 ms", 0.50), ("p99 ms", 0.99)):
            summary.append([f"live, {r.mode}", name, f"{r.percentile(share):.0f}"])
        summary.append([f"live, {r.mode}", "max ms", f"{max(r.latencies_ms, default=0):.0f}"])
    if len(latencies) == 2:
        embedded, distributed = latencies
        summary.append(
            [
                "live",
                "p50 distributed / embedded",
                ratio(distributed.percentile(0.5), embedded.percentile(0.5)),
            ]
        )
        summary.append(
            [
                "live",
                "p99 distributed / embedded",
                ratio(distributed.percentile(0.99), embedded.percentile(0.99)),
            ]
        )
    print_table("Summary", ["mode", "metric", "value"], summary, left=2)
    print(f"wall time {time.monotonic() - wall:.0f}s")
    for failure in failures:
        print(f"FAIL: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
