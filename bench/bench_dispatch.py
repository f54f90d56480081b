"""Benchmark dispatch: ranking and recording offers among 20,000 responders, and 200 concurrent
acceptances racing for 20 slots through the service on SQLite (every slot filled exactly once)."""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from pyproj import Geod
from sqlalchemy import insert, select

from dispatch import service
from dispatch.models import ResponderProfile
from kizuna.db import Database, new_id
from kizuna.errors import Conflict
from kizuna.migrate import upgrade
from kizuna.models import User
from kizuna.settings import Settings

RESPONDERS = 20_000
INCIDENTS = 30
RACERS = 200
SLOTS = 20
THREADS = 25  # below the SQLite pool (20 + 10 overflow): every thread holds one connection
SEED = 11
CITY = "999997"
RACE_CITY = "999989"
# A 30 km square: a large city's whole fire corps in one municipality.
BOX = (139.0, 35.0, 139.33, 35.27)
GEOD = Geod(ellps="GRS80")


def seed(database: Database) -> tuple[User, list[User]]:
    rng = np.random.default_rng(SEED)
    lons = rng.uniform(BOX[0], BOX[2], RESPONDERS)
    lats = rng.uniform(BOX[1], BOX[3], RESPONDERS)
    pump = rng.uniform(0, 1, RESPONDERS) < 0.4
    availability = np.where(rng.uniform(0, 1, RESPONDERS) < 0.8, "available", "off")
    officer = User(
        id=new_id(),
        username="officer",
        password_hash="x",
        role="officer",
        municipality_codes=[CITY, RACE_CITY],
    )
    users = [
        {
            "id": new_id(),
            "username": f"r{i}",
            "password_hash": "x",
            "role": "responder",
            "municipality_codes": [CITY],
        }
        for i in range(RESPONDERS)
    ]
    racers = [
        {
            "id": new_id(),
            "username": f"race{i}",
            "password_hash": "x",
            "role": "responder",
            "municipality_codes": [RACE_CITY],
        }
        for i in range(RACERS)
    ]
    profiles = [
        {
            "user_id": u["id"],
            "kind": "fire_corps",
            "municipality_code": CITY,
            "skills": ["first_aid", "pump_operator"] if pump[i] else ["first_aid"],
            "availability": str(availability[i]),
            "lon": float(lons[i]),
            "lat": float(lats[i]),
        }
        for i, u in enumerate(users)
    ] + [
        {
            "user_id": u["id"],
            "kind": "fire_corps",
            "municipality_code": RACE_CITY,
            "skills": ["pump_operator"],
            "availability": "available",
            "lon": 139.05 + (i % 20) * 0.0005,
            "lat": 35.05 + (i // 20) * 0.0005,
        }
        for i, u in enumerate(racers)
    ]
    with database.session() as session:
        session.add(officer)
        session.flush()
        for start in range(0, len(users) + RACERS, 5_000):
            session.execute(insert(User), (users + racers)[start : start + 5_000])
            session.execute(insert(ResponderProfile), profiles[start : start + 5_000])
    with database.session() as session:
        racer_users = list(session.scalars(select(User).where(User.username.like("race%"))))
    return officer, racer_users


def bench_offers(database: Database, officer: User) -> None:
    rng = np.random.default_rng(SEED + 1)
    timings, counts = [], []
    for _ in range(INCIDENTS):
        lon = float(rng.uniform(BOX[0] + 0.05, BOX[2] - 0.05))
        lat = float(rng.uniform(BOX[1] + 0.05, BOX[3] - 0.05))
        with database.session() as session:
            incident = service.create_incident(
                session,
                officer,
                {
                    "kind": "fire",
                    "description": "bench",
                    "lon": lon,
                    "lat": lat,
                    "municipality_code": CITY,
                },
            )
        started = time.perf_counter()
        with database.session() as session:
            _, offered = service.create_dispatch(
                session,
                officer,
                incident.id,
                {
                    "needed": 5,
                    "skills": ["pump_operator"],
                    "radius_m": 3000,
                    "respond_within_s": 300,
                    "escalate_after_s": 300,
                },
            )
        timings.append(time.perf_counter() - started)
        counts.append(len(offered))
    # Baseline: every responder's geodesic distance, as a naive scan of the roster would do.
    with database.session() as session:
        rows = session.execute(select(ResponderProfile.lon, ResponderProfile.lat)).all()
    lons = np.array([r[0] for r in rows])
    lats = np.array([r[1] for r in rows])
    started = time.perf_counter()
    for _ in range(INCIDENTS):
        GEOD.inv(np.full_like(lons, 139.15), np.full_like(lats, 35.13), lons, lats)
    scan_ms = (time.perf_counter() - started) / INCIDENTS * 1000
    median_ms = statistics.median(timings) * 1000
    print(f"offers among {RESPONDERS:,} responders, 3 km, pump_operator ({INCIDENTS} incidents):")
    print(f"  rank + record + outbox: median {median_ms:.1f} ms, max {max(timings) * 1000:.1f} ms")
    print(f"  offers per dispatch: median {statistics.median(counts):.0f}, max {max(counts)}")
    print(f"  (geodesic distance to all {len(rows):,} rows alone: {scan_ms:.1f} ms)")


def bench_race(database: Database, officer: User, racers: list[User]) -> bool:
    with database.session() as session:
        incident = service.create_incident(
            session,
            officer,
            {
                "kind": "fire",
                "description": "race",
                "lon": 139.055,
                "lat": 35.055,
                "municipality_code": RACE_CITY,
            },
        )
        dispatch, offered = service.create_dispatch(
            session,
            officer,
            incident.id,
            {
                "needed": SLOTS,
                "skills": ["pump_operator"],
                "radius_m": 5000,
                "respond_within_s": 600,
                "escalate_after_s": 600,
            },
        )
    assert len(offered) == RACERS, len(offered)

    def accept(user: User) -> str:
        try:
            with database.session() as session:
                service.respond(session, user, dispatch.id, True, 10)
            return "accepted"
        except Conflict as exc:
            return exc.code

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        outcomes = list(pool.map(accept, racers))
    elapsed = time.perf_counter() - started
    accepted = outcomes.count("accepted")
    filled = outcomes.count("dispatch_filled")
    print(f"{RACERS} concurrent acceptances for {SLOTS} slots ({THREADS} threads, SQLite):")
    print(f"  {RACERS / elapsed:.0f} responses/s; accepted {accepted}, told filled {filled}")
    ok = accepted == SLOTS and filled == RACERS - SLOTS
    print(f"  count check: {'ok' if ok else 'FAILED'}")
    return ok


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp))
        upgrade(settings)
        database = Database(settings.resolved_database_url)
        try:
            started = time.perf_counter()
            officer, racers = seed(database)
            seeded_s = time.perf_counter() - started
            print(f"seeded {RESPONDERS + RACERS:,} responders in {seeded_s:.1f} s")
            bench_offers(database, officer)
            ok = bench_race(database, officer, racers)
        finally:
            database.dispose()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
