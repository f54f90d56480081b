"""Benchmark SubscriberIndex.within against a per-point loop on a municipal multipolygon."""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
import shapely
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

from gis import SubscriberIndex, geodesic_area_m2, naive_within, parse_area_geometry

POINTS = 1_000_000
NAIVE_SAMPLE = 20_000
REPEATS = 3
SEED = 20240101
NANAO = Path("boundaries/jma_areas/jma_city_1720200_nanao.geojson")

T = TypeVar("T")


def best_of(repeats: int, function: Callable[[], T]) -> tuple[float, T]:
    """Run `function` `repeats` times; return the fastest wall time and the last result."""
    best = math.inf
    result: T | None = None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    assert result is not None
    return best, result


def star_polygon(vertices: int = 5_000) -> Polygon:
    """A star-shaped, coastline-like polygon near 七尾市 for when the real boundary is absent."""
    angles = np.linspace(0.0, 2.0 * np.pi, vertices, endpoint=False)
    rng = np.random.default_rng(SEED)
    # Bays and headlands at several scales, like a municipal coast; radius stays positive, so
    # the polygon is star-shaped around its centre and valid.
    wobble = sum(
        amplitude * np.sin(frequency * angles + rng.uniform(0, 2 * np.pi))
        for frequency, amplitude in ((3, 0.25), (11, 0.12), (37, 0.06), (131, 0.03))
    )
    radii = 0.1 * (1 + wobble + 0.02 * rng.standard_normal(vertices))
    ring = np.column_stack([136.95 + radii * np.cos(angles), 37.08 + radii * np.sin(angles)])
    return Polygon(ring)


def load_area() -> tuple[str, BaseGeometry]:
    location = os.environ.get("KIZUNA_SHARED_DATA")
    if not location:
        return "synthetic star (no shared data)", star_polygon()
    feature = json.loads((Path(location) / NANAO).read_text(encoding="utf-8"))
    return "七尾市 JMA 1720200 (real)", parse_area_geometry(feature["geometry"], "nanao.geometry")


def main() -> int:
    label, area = load_area()
    min_x, min_y, max_x, max_y = area.bounds
    pad_x, pad_y = 0.1 * (max_x - min_x), 0.1 * (max_y - min_y)
    rng = np.random.default_rng(SEED)
    lons = rng.uniform(min_x - pad_x, max_x + pad_x, POINTS)
    lats = rng.uniform(min_y - pad_y, max_y + pad_y, POINTS)
    ids = np.arange(POINTS, dtype=np.int64)

    build_s, index = best_of(REPEATS, lambda: SubscriberIndex(ids, lons, lats))
    within_s, matched = best_of(REPEATS, lambda: index.within(area))
    sample = slice(0, NAIVE_SAMPLE)
    naive_s, naive_matched = best_of(
        1, lambda: naive_within(area, ids[sample], lons[sample], lats[sample])
    )
    naive_per_million = naive_s / NAIVE_SAMPLE * 1_000_000
    index_sample = matched[matched < NAIVE_SAMPLE]
    agree = np.array_equal(index_sample, naive_matched)

    rows = [
        ("area", label),
        ("vertices", f"{shapely.get_num_coordinates(area):,}"),
        ("polygons", f"{shapely.get_num_geometries(area):,}"),
        ("area km²", f"{geodesic_area_m2(area) / 1e6:,.1f}"),
        ("points", f"{POINTS:,}"),
        ("matched", f"{len(matched):,}"),
        ("index build s (best of 3)", f"{build_s:.3f}"),
        ("index within s (best of 3)", f"{within_s:.3f}"),
        (f"naive s on {NAIVE_SAMPLE:,} points", f"{naive_s:.3f}"),
        ("naive s per 1M (extrapolated)", f"{naive_per_million:.1f}"),
        ("speed-up (naive per 1M / within)", f"{naive_per_million / within_s:,.0f}x"),
        (f"sample matches agree ({len(naive_matched):,})", "yes" if agree else "NO"),
    ]
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        width = max(len(name) for name, _ in rows)
        for name, value in rows:
            print(f"{name:<{width}}  {value}")
    else:
        table = Table(title="Alert targeting: SubscriberIndex vs per-point loop")
        table.add_column("measure")
        table.add_column("value", justify="right")
        for name, value in rows:
            table.add_row(name, value)
        Console().print(table)
    if not agree:
        print("index and naive loop disagree on the sample", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
