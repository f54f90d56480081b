"""SubscriberIndex: which subscribers lie inside an area."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from shapely.geometry import MultiPolygon, Polygon

from gis import SubscriberIndex, circle_polygon, naive_within

SQUARE = Polygon([(137.0, 37.0), (137.1, 37.0), (137.1, 37.1), (137.0, 37.1)])


def test_points_inside_are_found_and_points_outside_are_not() -> None:
    index = SubscriberIndex(["in", "out", "far"], [137.05, 137.2, 139.7], [37.05, 37.05, 35.7])
    assert index.within(SQUARE).tolist() == ["in"]


def test_points_on_an_edge_or_a_vertex_count_as_inside() -> None:
    index = SubscriberIndex(
        np.array([1, 2, 3, 4]), [137.05, 137.1, 137.0, 137.1000001], [37.0, 37.1, 37.05, 37.05]
    )
    assert index.within(SQUARE).tolist() == [1, 2, 3]


def test_a_hole_is_excluded_but_its_edge_is_not() -> None:
    hole = [(137.04, 37.04), (137.06, 37.04), (137.06, 37.06), (137.04, 37.06)]
    donut = Polygon(SQUARE.exterior.coords, [hole])
    index = SubscriberIndex(["hole", "ring", "hole-edge"], [137.05, 137.02, 137.06], [37.05] * 3)
    assert index.within(donut).tolist() == ["ring", "hole-edge"]


def test_every_part_of_a_multipolygon_is_searched() -> None:
    islet = Polygon([(137.3, 37.3), (137.31, 37.3), (137.31, 37.31), (137.3, 37.31)])
    area = MultiPolygon([SQUARE, islet])
    index = SubscriberIndex([10, 20, 30], [137.05, 137.305, 137.2], [37.05, 37.305, 37.2])
    assert index.within(area).tolist() == [10, 20]


def test_results_keep_the_input_order_and_id_dtype() -> None:
    ids = np.array([9, 3, 7, 1], dtype=np.int64)
    index = SubscriberIndex(ids, [137.09, 137.01, 137.05, 137.2], [37.05] * 4)
    result = index.within(SQUARE)
    assert result.dtype == np.int64
    assert result.tolist() == [9, 3, 7]


def test_an_empty_index_and_an_empty_area_find_nothing() -> None:
    assert len(SubscriberIndex([], [], []).within(SQUARE)) == 0
    index = SubscriberIndex([1], [137.05], [37.05])
    assert len(index) == 1
    assert len(index.within(Polygon())) == 0


def test_within_leaves_the_callers_geometry_unprepared() -> None:
    area = Polygon(SQUARE.exterior.coords)
    SubscriberIndex([1], [137.05], [37.05]).within(area)
    assert not shapely.is_prepared(area)


def test_a_prepared_area_gives_the_same_answer() -> None:
    area = Polygon(SQUARE.exterior.coords)
    shapely.prepare(area)
    index = SubscriberIndex([1, 2], [137.05, 137.5], [37.05, 37.05])
    assert index.within(area).tolist() == [1]


def test_mismatched_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        SubscriberIndex([1, 2], [137.0], [37.0, 37.1])


def test_the_index_agrees_with_the_naive_loop_on_random_points() -> None:
    rng = np.random.default_rng(20240101)
    # An irregular, non-convex polygon with a hole: a 64-vertex wobbly circle and a notch.
    angles = np.linspace(0, 2 * np.pi, 64, endpoint=False)
    radii = 0.05 * (1 + 0.4 * np.sin(5 * angles) + 0.2 * rng.random(64))
    shell = np.column_stack([137.0 + radii * np.cos(angles), 37.0 + radii * np.sin(angles)])
    area = Polygon(shell).difference(circle_polygon(137.0, 37.0, 1.5))
    assert area.is_valid and len(area.interiors) == 1
    lons = rng.uniform(136.9, 137.1, 2000)
    lats = rng.uniform(36.9, 37.1, 2000)
    # Put some points exactly on vertices, where rounding would show first.
    vertices = np.asarray(area.exterior.coords)[:50]
    lons[:50], lats[:50] = vertices[:, 0], vertices[:, 1]
    ids = np.arange(2000)
    expected = naive_within(area, ids, lons, lats)
    found = SubscriberIndex(ids, lons, lats).within(area)
    assert 200 < len(found) < 1800
    assert found.tolist() == expected.tolist()
    assert set(range(50)) <= set(found.tolist())
