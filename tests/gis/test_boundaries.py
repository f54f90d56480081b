"""Municipality boundaries from GeoJSON FeatureCollections."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from shapely.geometry import MultiPolygon, Point, Polygon

from gis import GeometryError, geodesic_area_m2, load_boundaries

FIXTURE = Path(__file__).parent / "fixtures" / "boundaries_small.geojson"
ISHIKAWA = Path("boundaries/n03_simplified/N03-21_17_210101_ishikawa.geojson")


def square(lon: float, lat: float, size: float = 0.1) -> dict[str, Any]:
    ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


def write_collection(path: Path, features: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), "utf-8")
    return path


def feature(geometry: dict[str, Any] | None, **properties: Any) -> dict[str, Any]:
    return {"type": "Feature", "properties": properties, "geometry": geometry}


def test_features_of_one_code_merge_and_a_null_code_is_skipped() -> None:
    result = load_boundaries(FIXTURE, "N03_007", "N03_004")
    assert [(a.code, a.name) for a in result.areas] == [("172014", "金沢市"), ("172022", "七尾市")]
    assert result.skipped == ["feature 2: N03_007 is empty"]
    kanazawa, nanao = result.areas
    # The two adjacent Kanazawa squares dissolve into one 0.2° x 0.1° rectangle.
    assert isinstance(kanazawa.geometry, Polygon)
    assert kanazawa.geometry.bounds == pytest.approx((136.6, 36.5, 136.8, 36.6))
    assert len(kanazawa.geometry.interiors) == 0
    rectangle = Polygon([(136.6, 36.5), (136.8, 36.5), (136.8, 36.6), (136.6, 36.6)])
    assert geodesic_area_m2(kanazawa.geometry) == pytest.approx(
        geodesic_area_m2(rectangle), rel=1e-4
    )
    assert isinstance(nanao.geometry, MultiPolygon)
    assert len(nanao.geometry.geoms) == 2
    assert nanao.geometry.covers(Point(137.06, 37.13))


def test_a_missing_name_falls_back_to_the_first_name_then_the_code(tmp_path: Path) -> None:
    path = write_collection(
        tmp_path / "names.geojson",
        [
            feature(square(136.0, 36.0), code="17201"),
            feature(square(136.1, 36.0), code="17201", name="金沢市"),
            feature(square(136.5, 36.0), code="17202", name=""),
        ],
    )
    result = load_boundaries(path, "code", "name")
    assert [(a.code, a.name) for a in result.areas] == [("172014", "金沢市"), ("172022", "172022")]


def test_a_self_intersecting_boundary_is_repaired(tmp_path: Path) -> None:
    bow_tie = [[136.0, 36.0], [136.1, 36.1], [136.1, 36.0], [136.0, 36.1], [136.0, 36.0]]
    path = write_collection(
        tmp_path / "bowtie.geojson",
        [feature({"type": "Polygon", "coordinates": [bow_tie]}, code="17201", name="金沢市")],
    )
    (area,) = load_boundaries(path, "code", "name").areas
    assert area.geometry.is_valid
    # Both triangles of the bow tie survive; its crossing point is their shared vertex.
    assert isinstance(area.geometry, MultiPolygon)
    assert area.geometry.covers(Point(136.02, 36.05))
    assert area.geometry.covers(Point(136.08, 36.05))
    assert geodesic_area_m2(area.geometry) > 0


def test_unusable_features_are_skipped_with_their_index(tmp_path: Path) -> None:
    path = write_collection(
        tmp_path / "mixed.geojson",
        [
            feature(square(136.0, 36.0), code="17201"),
            feature(None, code="17202"),
            feature({"type": "Point", "coordinates": [136.0, 36.0]}, code="17203"),
            feature(square(136.0, 36.0), code="172019"),
            feature(square(136.0, 36.0), code="  "),
            feature(square(136.0, 36.0), other="x"),
        ],
    )
    result = load_boundaries(path, "code", "name")
    assert [a.code for a in result.areas] == ["172014"]
    assert [reason.split(":")[0] for reason in result.skipped] == [
        "feature 1 (172022)",
        "feature 2 (172031)",
        "feature 3",
        "feature 4",
        "feature 5",
    ]
    assert "expected 4" in result.skipped[2]
    assert "Point" in result.skipped[1]


def test_a_file_that_is_not_a_feature_collection_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "geometry.geojson"
    path.write_text(json.dumps(square(136.0, 36.0)), "utf-8")
    with pytest.raises(GeometryError, match="FeatureCollection"):
        load_boundaries(path, "code", "name")


def test_a_missing_or_broken_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(GeometryError, match="cannot read"):
        load_boundaries(tmp_path / "absent.geojson", "code", "name")
    broken = tmp_path / "broken.geojson"
    broken.write_text('{"type": "FeatureCollection", "features": [', "utf-8")
    with pytest.raises(GeometryError, match="not UTF-8 GeoJSON"):
        load_boundaries(broken, "code", "name")


def test_a_code_property_absent_from_every_feature_is_refused() -> None:
    with pytest.raises(GeometryError, match="'N03_999'"):
        load_boundaries(FIXTURE, "N03_999", "N03_004")


def test_projected_coordinates_are_refused(tmp_path: Path) -> None:
    # EPSG:6675 plane-rectangular metres, as some municipal open data is published.
    path = write_collection(
        tmp_path / "projected.geojson", [feature(square(-40_000.0, 60_000.0, 500.0), code="17202")]
    )
    with pytest.raises(GeometryError, match=r"coordinates must be \[lon, lat\]"):
        load_boundaries(path, "code", "name")


def test_the_real_ishikawa_n03_boundaries_load() -> None:
    location = os.environ.get("KIZUNA_SHARED_DATA")
    if not location:
        pytest.skip("KIZUNA_SHARED_DATA not set: real N03 boundaries not available")
    result = load_boundaries(Path(location) / ISHIKAWA, "N03_007", "N03_004")
    by_code = {area.code: area for area in result.areas}
    assert len(by_code) == 19
    assert result.skipped == []
    assert by_code["172014"].name == "金沢市"
    assert by_code["172022"].name == "七尾市"
    assert isinstance(by_code["172022"].geometry, MultiPolygon)
    # 金沢市役所 and 七尾市役所 lie inside their own city and not the other.
    kanazawa_hall, nanao_hall = Point(136.6562, 36.5613), Point(136.9672, 37.0431)
    assert by_code["172014"].geometry.covers(kanazawa_hall)
    assert by_code["172022"].geometry.covers(nanao_hall)
    assert not by_code["172014"].geometry.covers(nanao_hall)
    # 金沢市 is 468.64 km² (GSI 2021); the simplified outline stays within 1% of it.
    assert geodesic_area_m2(by_code["172014"].geometry) == pytest.approx(468.64e6, rel=0.01)
