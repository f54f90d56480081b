"""Benchmark nearest-open-shelter-with-room among 100,000 shelters against a brute-force scan."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from pyproj import Geod
from sqlalchemy import insert, select

from kizuna.db import Database, new_id
from kizuna.migrate import upgrade
from kizuna.settings import Settings
from shelters.models import Shelter
from shelters.service import search

SHELTERS = 100_000
QUERIES = 300
SEED = 7
# Honshu-sized box: 100,000 shelters is about the national count (指定緊急避難場所 ≈ 110,000).
BOX = (130.0, 31.0, 142.0, 41.0)
GEOD = Geod(ellps="GRS80")


def seed(database: Database) -> None:
    rng = np.random.default_rng(SEED)
    lons = rng.uniform(BOX[0], BOX[2], SHELTERS)
    lats = rng.uniform(BOX[1], BOX[3], SHELTERS)
    capacity = rng.integers(50, 1000, SHELTERS)
    occupancy = (capacity * rng.uniform(0, 1.2, SHELTERS)).astype(int).clip(0, capacity)
    status = np.where(rng.uniform(0, 1, SHELTERS) < 0.6, "open", "closed")
    rows = [
        {
            "id": new_id(),
            "source_id": f"S{i}",
            "municipality_code": "999997",
            "name": f"shelter {i}",
            "lon": float(lons[i]),
            "lat": float(lats[i]),
            "kind": "shelter",
            "hazards": ["flood", "earthquake"],
            "capacity": int(capacity[i]),
            "occupancy": int(occupancy[i]),
            "status": str(status[i]),
        }
        for i in range(SHELTERS)
    ]
    with database.session() as session:
        for start in range(0, SHELTERS, 10_000):
            session.execute(insert(Shelter), rows[start : start + 10_000])


def brute_force(
    all_rows: list[tuple[str, float, float, str, int | None, int]],
    lon: float,
    lat: float,
    radius_m: float,
    limit: int,
) -> list[str]:
    """Every shelter's geodesic distance, then filter and sort: the baseline."""
    ids = [r[0] for r in all_rows]
    lons = np.array([r[1] for r in all_rows])
    lats = np.array([r[2] for r in all_rows])
    room = np.array([r[3] == "open" and (r[4] is None or r[5] < r[4]) for r in all_rows])
    _, _, distances = GEOD.inv(np.full_like(lons, lon), np.full_like(lats, lat), lons, lats)
    eligible = np.flatnonzero(room & (distances <= radius_m))
    order = eligible[np.argsort(distances[eligible], kind="stable")]
    return [ids[i] for i in order[:limit]]


def main() -> int:
    with tempfile.TemporaryDirectory() as workdir:
        settings = Settings(data_dir=Path(workdir))
        upgrade(settings)
        database = Database(settings.resolved_database_url)
        start = time.perf_counter()
        seed(database)
        print(f"seeded {SHELTERS:,} shelters in {time.perf_counter() - start:.1f}s (SQLite)")
        rng = np.random.default_rng(SEED + 1)
        points = list(
            zip(
                rng.uniform(BOX[0] + 1, BOX[2] - 1, QUERIES),
                rng.uniform(BOX[1] + 1, BOX[3] - 1, QUERIES),
                strict=True,
            )
        )
        radius, limit = 20_000.0, 3
        with database.session() as session:
            indexed: list[list[str]] = []
            start = time.perf_counter()
            for lon, lat in points:
                found = search(session, lon, lat, radius, with_room=True, limit=limit)
                indexed.append([f.shelter.id for f in found])
            indexed_s = time.perf_counter() - start
            start = time.perf_counter()
            rows = [
                (r[0], r[1], r[2], r[3], r[4], r[5])
                for r in session.execute(
                    select(
                        Shelter.id,
                        Shelter.lon,
                        Shelter.lat,
                        Shelter.status,
                        Shelter.capacity,
                        Shelter.occupancy,
                    )
                )
            ]
            load_s = time.perf_counter() - start
            sample = points[:50]
            start = time.perf_counter()
            brute = [brute_force(rows, lon, lat, radius, limit) for lon, lat in sample]
            scan_s = (time.perf_counter() - start) / len(sample)
            brute_s = scan_s + load_s
        database.dispose()
    mismatches = sum(1 for a, b in zip(indexed[: len(sample)], brute, strict=True) if a != b)
    indexed_qps = QUERIES / indexed_s
    brute_qps = 1 / brute_s
    print(f"{'method':<44} {'queries/s':>10} {'ms/query':>9}")
    print(
        f"{'bbox prefilter (SQL) + geodesic sort':<44} {indexed_qps:>10.1f} "
        f"{1000 / indexed_qps:>9.2f}"
    )
    print(
        f"{'brute force: load all + geodesic scan':<44} {brute_qps:>10.1f} {1000 / brute_qps:>9.2f}"
    )
    print(
        f"{'brute force: geodesic scan, data in memory':<44} {1 / scan_s:>10.1f} "
        f"{1000 * scan_s:>9.2f}"
    )
    print(f"ratio (prefilter / load + scan): {indexed_qps / brute_qps:.1f}x")
    print(f"ratio (prefilter / in-memory scan): {indexed_qps * scan_s:.1f}x")
    print(f"answers equal on {len(sample) - mismatches}/{len(sample)} sampled queries")
    if mismatches:
        print("FAIL: the prefiltered search disagrees with the brute-force scan")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
