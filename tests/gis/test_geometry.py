"""Area validation, circles, GeoJSON output and geodesic area."""

from __future__ import annotations

import math
from typing import Any

import pytest
from pyproj import Geod
from shapely.geometry import MultiPolygon, Polygon

from gis import GeometryError, circle_polygon, geodesic_area_m2, parse_area_geometry, to_geojson

GEOD = Geod(ellps="GRS80")
SQUARE = [[136.9, 37.0], [137.0, 37.0], [137.0, 37.1], [136.9, 37.1], [136.9, 37.0]]


def polygon(*rings: list[list[Any]]) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": list(rings)}


def refusal(obj: object, field: str = "geometry") -> GeometryError:
    with pytest.raises(GeometryError) as caught:
        parse_area_geometry(obj, field=field)
    return caught.value


def test_a_valid_polygon_is_returned_as_shapely() -> None:
    area = parse_area_geometry(polygon(SQUARE))
    assert isinstance(area, Polygon)
    assert area.bounds == (136.9, 37.0, 137.0, 37.1)


def test_altitude_is_accepted_and_dropped() -> None:
    area = parse_area_geometry(polygon([[*position, 12.5] for position in SQUARE]))
    assert not area.has_z


def test_a_polygon_with_a_hole_is_accepted() -> None:
    hole = [[136.94, 37.04], [136.94, 37.06], [136.96, 37.06], [136.96, 37.04], [136.94, 37.04]]
    area = parse_area_geometry(polygon(SQUARE, hole))
    assert isinstance(area, Polygon)
    assert len(area.interiors) == 1


def test_a_multipolygon_is_accepted() -> None:
    other = [[137.1, 37.0], [137.2, 37.0], [137.2, 37.1], [137.1, 37.1], [137.1, 37.0]]
    area = parse_area_geometry({"type": "MultiPolygon", "coordinates": [[SQUARE], [other]]})
    assert isinstance(area, MultiPolygon)
    assert len(area.geoms) == 2


def test_a_non_object_is_refused_at_the_field_itself() -> None:
    error = refusal([1, 2], field="area.geometry")
    assert error.field == "area.geometry"


def test_a_missing_type_is_refused() -> None:
    error = refusal({"coordinates": [SQUARE]})
    assert error.field == "geometry.type"


def test_missing_coordinates_are_refused() -> None:
    error = refusal({"type": "Polygon"})
    assert error.field == "geometry.coordinates"


@pytest.mark.parametrize("kind", ["Point", "LineString", "GeometryCollection", "Feature"])
def test_a_non_areal_type_is_refused_naming_the_type(kind: str) -> None:
    error = refusal({"type": kind, "coordinates": [136.9, 37.0]})
    assert error.field == "geometry.type"
    assert repr(kind) in error.message
    assert "Polygon or MultiPolygon" in error.message


def test_a_polygon_without_rings_is_refused() -> None:
    error = refusal(polygon())
    assert error.field == "geometry.coordinates"


def test_a_multipolygon_without_polygons_is_refused() -> None:
    error = refusal({"type": "MultiPolygon", "coordinates": []})
    assert error.field == "geometry.coordinates"


@pytest.mark.parametrize(
    "position",
    [
        [136.9],
        [136.9, 37.0, 1.0, 2.0],
        "136.9,37.0",
        [136.9, "37.0"],
        [True, 37.0],
        [136.9, None],
        [math.nan, 37.0],
        [136.9, math.inf],
    ],
)
def test_a_malformed_position_is_refused_with_its_location(position: object) -> None:
    ring: list[Any] = [list(p) for p in SQUARE]
    ring[3] = position
    error = refusal(polygon(ring), field="area.geometry")
    assert error.field == "area.geometry.coordinates[0][3]"


def test_a_longitude_beyond_180_is_refused() -> None:
    ring = [list(p) for p in SQUARE]
    ring[1] = [181.0, 37.0]
    error = refusal(polygon(ring))
    assert error.field == "geometry.coordinates[0][1]"
    assert "longitude 181.0" in error.message


def test_swapped_lat_lon_is_refused_with_a_hint() -> None:
    swapped = [[lat, lon] for lon, lat in SQUARE]
    error = refusal(polygon(swapped))
    assert error.field == "geometry.coordinates[0][0]"
    assert "latitude 136.9 is outside [-90, 90]" in error.message
    assert "looks like [lat, lon]" in error.message
    assert "coordinates must be [lon, lat]" in error.message


def test_a_ring_with_three_positions_is_refused_with_its_location() -> None:
    error = refusal(polygon([[136.9, 37.0], [137.0, 37.0], [136.9, 37.0]]))
    assert error.field == "geometry.coordinates[0]"
    assert "at least 4 positions" in error.message


def test_unclosed_ring_is_refused_with_its_location() -> None:
    error = refusal(polygon([*SQUARE[:-1], [136.95, 37.05]]))
    assert error.field == "geometry.coordinates[0]"
    assert "not closed" in error.message


def test_an_unclosed_hole_is_refused_with_its_location() -> None:
    hole = [[136.94, 37.04], [136.94, 37.06], [136.96, 37.06], [136.96, 37.04]]
    error = refusal(polygon(SQUARE, hole))
    assert error.field == "geometry.coordinates[1]"


def test_a_multipolygon_position_is_located_by_polygon_ring_and_index() -> None:
    bad = [list(p) for p in SQUARE]
    bad[2] = [137.0, 95.0]
    error = refusal({"type": "MultiPolygon", "coordinates": [[SQUARE], [bad]]})
    assert error.field == "geometry.coordinates[1][0][2]"


def test_a_self_intersecting_bow_tie_is_refused_with_the_reason() -> None:
    bow_tie = [[136.9, 37.0], [137.0, 37.1], [137.0, 37.0], [136.9, 37.1], [136.9, 37.0]]
    error = refusal(polygon(bow_tie))
    assert error.field == "geometry"
    assert "Self-intersection[136.95 37.05]" in error.message


def test_overlapping_multipolygon_parts_are_refused() -> None:
    shifted = [[lon + 0.05, lat] for lon, lat in SQUARE]
    error = refusal({"type": "MultiPolygon", "coordinates": [[SQUARE], [shifted]]})
    assert "Self-intersection" in error.message


def test_a_zero_area_ring_is_refused() -> None:
    flat = [[136.9, 37.0], [137.0, 37.0], [136.95, 37.0], [136.9, 37.0]]
    error = refusal(polygon(flat))
    assert "not valid" in error.message


def test_a_ten_km_circle_has_vertices_ten_km_from_the_centre() -> None:
    circle = circle_polygon(136.9654, 37.0431, 10.0)
    ring = list(circle.exterior.coords)
    assert len(ring) == 73
    assert ring[0] == ring[-1]
    for lon, lat in ring:
        distance = GEOD.inv(136.9654, 37.0431, lon, lat)[2]
        assert distance == pytest.approx(10_000.0, abs=1.0)


def test_a_ten_km_circle_has_the_area_of_a_disc() -> None:
    circle = circle_polygon(136.9654, 37.0431, 10.0)
    assert geodesic_area_m2(circle) == pytest.approx(math.pi * 10_000.0**2, rel=0.01)
    assert circle.is_valid


def test_a_circle_honours_the_segment_count() -> None:
    assert len(circle_polygon(139.7, 35.7, 1.0, segments=16).exterior.coords) == 17


@pytest.mark.parametrize(
    ("lon", "lat", "radius_km", "field"),
    [
        (181.0, 35.0, 1.0, "lon"),
        (139.0, -91.0, 1.0, "lat"),
        (math.nan, 35.0, 1.0, "lon"),
        (139.0, 35.0, 0.0, "radius_km"),
        (139.0, 35.0, -5.0, "radius_km"),
        (139.0, 35.0, 1000.1, "radius_km"),
        (139.0, 35.0, math.inf, "radius_km"),
        (139.0, 89.9, 50.0, "lat"),
        (179.99, 0.0, 10.0, "lon"),
    ],
)
def test_an_impossible_circle_is_refused_naming_the_argument(
    lon: float, lat: float, radius_km: float, field: str
) -> None:
    with pytest.raises(GeometryError) as caught:
        circle_polygon(lon, lat, radius_km)
    assert caught.value.field == field


def test_a_thousand_km_circle_is_allowed() -> None:
    assert geodesic_area_m2(circle_polygon(137.0, 37.0, 1000.0)) > 3.1e12


def test_to_geojson_gives_plain_lists_that_parse_back() -> None:
    hole = [[136.94, 37.04], [136.94, 37.06], [136.96, 37.06], [136.96, 37.04], [136.94, 37.04]]
    area = parse_area_geometry(polygon(SQUARE, hole))
    out = to_geojson(area)
    assert out["type"] == "Polygon"
    assert isinstance(out["coordinates"], list)
    assert all(isinstance(p, list) for ring in out["coordinates"] for p in ring)
    assert parse_area_geometry(out).equals(area)


def test_to_geojson_winds_exteriors_counter_clockwise_per_rfc_7946() -> None:
    clockwise = list(reversed(SQUARE))
    out = to_geojson(parse_area_geometry(polygon(clockwise)))
    assert Polygon(out["coordinates"][0]).exterior.is_ccw


def test_geodesic_area_of_a_one_degree_cell_at_the_equator() -> None:
    cell = Polygon([(0, 0), (1, 0), (1, 1), (0, 1), (0, 0)])
    # Authalic-latitude formula for the zone 0°-1°N, 1° wide: 12,308.46 km². The geodesic top
    # edge bulges poleward of the parallel, adding ~0.3 km², well inside the tolerance.
    assert geodesic_area_m2(cell) == pytest.approx(12_308.46e6, rel=1e-4)


def test_geodesic_area_subtracts_a_hole_whatever_its_winding() -> None:
    shell = [(0, 0), (1, 0), (1, 1), (0, 1), (0, 0)]
    hole = [(0.2, 0.2), (0.8, 0.2), (0.8, 0.8), (0.2, 0.8), (0.2, 0.2)]
    full = geodesic_area_m2(Polygon(shell))
    hole_area = geodesic_area_m2(Polygon(hole))
    for hole_ring in (hole, list(reversed(hole))):
        area = geodesic_area_m2(Polygon(shell, [hole_ring]))
        assert area == pytest.approx(full - hole_area, rel=1e-9)


def test_geodesic_area_of_a_multipolygon_sums_its_parts() -> None:
    a = circle_polygon(136.9, 37.0, 2.0)
    b = circle_polygon(137.1, 37.0, 3.0)
    assert geodesic_area_m2(MultiPolygon([a, b])) == pytest.approx(
        geodesic_area_m2(a) + geodesic_area_m2(b), rel=1e-9
    )
