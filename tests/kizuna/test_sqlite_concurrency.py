"""Concurrent writers through the real app: check-ins pile up behind a held write lock while
alerts are issued and fan out; every request must answer and every delivery be recorded.

The stall this guards against: a request holding a connection (and, once it wrote, SQLite's write
lock or a PostgreSQL row lock) waits for a worker thread, while every worker thread is held by
requests waiting for a connection or that lock; all of them wait out the 30 s timeouts and fail
with "database is locked" or a pool timeout (kizuna/routing.py). 120 check-ins are three times
AnyIO's 40 worker threads and four times the connection pool.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor

import httpx
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy import func, insert, select, update

from alerts.models import AlertVersion, Delivery, Subscription, SubscriptionPlace
from kizuna.routing import KizunaRoute
from shelters.models import Shelter
from tests.shelters.test_shelters import make_shelters, open_shelter, shelter
from tests.support import LiveServer, alert_body

SUBSCRIBERS = 300
ALERTS = 5
CHECK_INS = 120


def seed_subscribers(server: LiveServer, count: int) -> list[str]:
    """Residents with a home inside the default alert area, written straight to the database."""
    ids = [str(uuid.uuid4()) for _ in range(count)]
    with server.runtime.db.session() as session:
        session.execute(
            insert(Subscription),
            [
                {
                    "id": sid,
                    "token_hash": hashlib.sha256(f"concurrency-{sid}".encode()).hexdigest(),
                    "languages": ["ja"],
                }
                for sid in ids
            ],
        )
        session.execute(
            insert(SubscriptionPlace),
            [
                {
                    "subscription_id": sid,
                    "position": 0,
                    "label": "home",
                    "lon": 139.001 + (n % 40) * 0.001,
                    "lat": 35.001 + (n // 40) * 0.001,
                }
                for n, sid in enumerate(ids)
            ],
        )
    return ids


def test_every_route_reaches_the_database_through_kizuna_routes(server: LiveServer) -> None:
    app = server.server.config.app
    assert isinstance(app, FastAPI)
    routes = [c for c in iter_route_contexts(app.routes) if isinstance(c.original_route, APIRoute)]
    assert len(routes) > 80
    assert [c.path for c in routes if not isinstance(c.original_route, KizunaRoute)] == []


def test_check_ins_and_alert_burst_behind_a_held_write_lock_all_succeed(
    server: LiveServer,
) -> None:
    shelter_id = make_shelters(server, shelter("busy", 139.01, 35.01, capacity=10_000))["busy"]
    open_shelter(server, shelter_id)
    subscribers = seed_subscribers(server, SUBSCRIBERS)
    headers = server.auth("officer-a")
    with server.client() as client:
        drafts = []
        for n in range(ALERTS):
            created = client.post(
                "/api/v1/alerts", json=alert_body(event=f"洪水 {n}"), headers=headers
            )
            assert created.status_code == 201, created.text
            drafts.append(created.json()["id"])

    def issue(alert_id: str) -> httpx.Response:
        return httpx.post(
            f"{server.url}/api/v1/alerts/{alert_id}/issue", headers=headers, timeout=120
        )

    def check_in() -> httpx.Response:
        return httpx.post(
            f"{server.url}/api/v1/shelters/{shelter_id}/occupancy",
            json={"delta": 1},
            headers=headers,
            timeout=120,
        )

    with ThreadPoolExecutor(max_workers=ALERTS + CHECK_INS) as pool:
        # Another writer holds the lock the check-ins need (SQLite's one write lock; the shelter
        # row on PostgreSQL) while the issues and then the check-ins arrive and queue behind it.
        with server.runtime.db.session() as holder:
            holder.execute(
                update(Shelter).where(Shelter.id == shelter_id).values(revision=Shelter.revision)
            )
            issues = [pool.submit(issue, alert_id) for alert_id in drafts]
            time.sleep(0.3)
            check_ins: list[Future[httpx.Response]] = [
                pool.submit(check_in) for _ in range(CHECK_INS)
            ]
            time.sleep(1.0)
        issued = [future.result() for future in issues]
        checked_in = [future.result() for future in check_ins]

    assert [r.status_code for r in issued] == [200] * ALERTS, [r.text for r in issued]
    failed = [r.text for r in checked_in if r.status_code != 200]
    assert failed == [], failed
    current = httpx.get(f"{server.url}/api/v1/shelters/{shelter_id}", timeout=30).json()
    assert current["occupancy"] == CHECK_INS

    with server.runtime.db.session() as session:
        versions = list(
            session.scalars(select(AlertVersion.id).where(AlertVersion.alert_id.in_(drafts)))
        )
    assert len(versions) == ALERTS
    wanted = set(subscribers)

    def recorded(version_id: str) -> set[str]:
        with server.runtime.db.session() as session:
            return set(
                session.scalars(
                    select(Delivery.subscription_id).where(
                        Delivery.alert_version_id == version_id, Delivery.channel == "websocket"
                    )
                )
            )

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and any(recorded(v) != wanted for v in versions):
        time.sleep(0.2)
    for version_id in versions:
        assert recorded(version_id) == wanted
    with server.runtime.db.session() as session:
        total = session.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(Delivery.alert_version_id.in_(versions))
        )
    assert total == ALERTS * SUBSCRIBERS
