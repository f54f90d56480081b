"""Districts (地区) of a municipality: import from GeoJSON, list publicly, add as an officer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from shapely.geometry import shape

from kizuna.areas import districts_of, import_districts
from kizuna.db import Database
from kizuna.demo import DEMO_CODE, demo_boundary
from kizuna.errors import InvalidInput
from kizuna.settings import Settings
from tests.support import CITY_A, CITY_B, LiveServer, kizuna_command, polygon

# City A is the box 139.0–139.1 × 35.0–35.1 (tests/support.py).
WEST = polygon(139.0, 35.0, 139.05, 35.1)
EAST = polygon(139.05, 35.0, 139.1, 35.1)
BOWTIE = {
    "type": "Polygon",
    "coordinates": [[[139.0, 35.0], [139.1, 35.1], [139.1, 35.0], [139.0, 35.1], [139.0, 35.0]]],
}


def feature(name: str | None, geometry: dict[str, Any], key: str = "name") -> dict[str, Any]:
    return {"type": "Feature", "properties": {key: name}, "geometry": geometry}


def collection(*features: dict[str, Any]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}


def write(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def stored(server: LiveServer, code: str) -> dict[str, Any]:
    """name → GeoJSON geometry of the districts the database holds for `code`."""
    with server.runtime.db.session() as session:
        return {d.name: d.geometry for d in districts_of(session, code)}


def test_import_validates_every_feature_and_stores_all_or_nothing(
    server: LiveServer, tmp_path: Path
) -> None:
    good = write(
        tmp_path / "good.geojson", collection(feature("西地区", WEST), feature("東地区", EAST))
    )
    with server.runtime.db.session() as session:
        first = import_districts(session, "99998", good)  # 5 digits: the check digit is added
    assert (first.created, first.updated) == (2, 0)
    assert [d.name for d in first.districts] == ["東地区", "西地区"]
    before = stored(server, CITY_A)
    assert shape(before["西地区"]).equals(shape(WEST))

    cases = [
        # (features, field, words the message must hold)
        (
            [feature("西地区", EAST), feature("北地区", BOWTIE)],
            "features[1].geometry",
            ["feature 1", "Self-intersection"],
        ),
        (
            [feature("西地区", EAST), feature("遠地区", polygon(140.0, 35.0, 140.1, 35.1))],
            "features[1].geometry",
            ["feature 1", "outside Atown"],
        ),
        (
            [feature("点地区", {"type": "Point", "coordinates": [139.01, 35.01]})],
            "features[0].geometry.type",
            ["Point", "Polygon or MultiPolygon"],
        ),
        (
            [feature("西地区", EAST), feature(None, WEST)],
            "features[1].properties.name",
            ["feature 1", "no district name"],
        ),
        (
            [feature("西地区", EAST), {"type": "Feature", "properties": {"name": "x"}}],
            "features[1].geometry",
            ["feature 1"],
        ),
    ]
    for index, (features, field, words) in enumerate(cases):
        bad = write(tmp_path / f"bad{index}.geojson", collection(*features))
        with server.runtime.db.session() as session, pytest.raises(InvalidInput) as caught:
            import_districts(session, CITY_A, bad)
        assert caught.value.field == field, (index, caught.value.message)
        for word in words:
            assert word in caught.value.message, (index, caught.value.message)
        # One bad feature stores nothing: 西地区 keeps its old shape, no new name appears.
        assert stored(server, CITY_A) == before, index

    not_geojson = tmp_path / "not.geojson"
    not_geojson.write_text("{not json", encoding="utf-8")
    with server.runtime.db.session() as session, pytest.raises(InvalidInput, match="not UTF-8"):
        import_districts(session, CITY_A, not_geojson)
    with server.runtime.db.session() as session, pytest.raises(InvalidInput) as unknown:
        import_districts(session, "13101", good)
    assert "unknown municipality code 131016" in unknown.value.message

    # Re-import replaces by name, clipped to the city (this one reaches 139.2, into city B).
    wide = write(
        tmp_path / "wide.geojson",
        collection(feature("ku", polygon(139.05, 35.0, 139.2, 35.1), key="KU_NAME")),
    )
    with server.runtime.db.session() as session:
        again = import_districts(session, CITY_A, wide, "KU_NAME")
    assert (again.created, again.updated) == (1, 0)
    after = stored(server, CITY_A)
    assert sorted(after) == ["ku", "東地区", "西地区"]
    assert shape(after["ku"]).bounds == (139.05, 35.0, 139.1, 35.1)
    with server.runtime.db.session() as session:
        replaced = import_districts(
            session, CITY_A, write(tmp_path / "r.geojson", collection(feature("西地区", EAST)))
        )
    assert (replaced.created, replaced.updated) == (0, 1)
    assert shape(stored(server, CITY_A)["西地区"]).equals(shape(EAST))


def test_districts_api_lists_publicly_and_officers_add_only_their_own(server: LiveServer) -> None:
    base = "/api/v1/municipalities"
    body = collection(feature("東地区", EAST), feature("西地区", WEST))
    with server.client() as client:
        empty = client.get(f"{base}/{CITY_A}/districts")
        assert empty.status_code == 200
        assert empty.json() == {"type": "FeatureCollection", "features": []}
        unknown = client.get(f"{base}/131016/districts")
        assert unknown.status_code == 404
        assert unknown.json()["error"]["field"] == "code"
        malformed = client.get(f"{base}/12x/districts")
        assert malformed.status_code == 422
        assert malformed.json()["error"]["field"] == "code"

        assert client.post(f"{base}/{CITY_A}/districts", json=body).status_code == 401
        for outsider in ("officer-b", "responder"):
            refused = client.post(
                f"{base}/{CITY_A}/districts", json=body, headers=server.auth(outsider)
            )
            assert refused.status_code == 403, (outsider, refused.text)
        assert stored(server, CITY_A) == {}

        created = client.post(
            f"{base}/{CITY_A}/districts", json=body, headers=server.auth("officer-a")
        )
        assert created.status_code == 201, created.text
        made = created.json()
        assert made["type"] == "FeatureCollection"
        assert (made["created"], made["updated"]) == (2, 0)
        assert [f["properties"]["name"] for f in made["features"]] == ["東地区", "西地区"]

        listed = client.get(f"{base}/99998/districts").json()
        assert [f["properties"]["name"] for f in listed["features"]] == ["東地区", "西地区"]
        west = listed["features"][1]
        assert west["id"] == west["properties"]["id"]
        assert west["properties"]["municipality_code"] == CITY_A
        assert shape(west["geometry"]).equals(shape(WEST))
        assert west["bbox"] == [139.0, 35.0, 139.05, 35.1]

        bad = client.post(
            f"{base}/{CITY_A}/districts",
            json=collection(feature("西地区", EAST), feature("北地区", BOWTIE)),
            headers=server.auth("officer-a"),
        )
        assert bad.status_code == 422
        assert bad.json()["error"]["field"] == "features[1].geometry"
        not_collection = client.post(
            f"{base}/{CITY_A}/districts",
            json={"type": "Feature", "geometry": WEST, "properties": {"name": "x"}},
            headers=server.auth("officer-a"),
        )
        assert not_collection.status_code == 422
        assert not_collection.json()["error"]["field"] == "type"
        assert client.get(f"{base}/{CITY_A}/districts").json() == listed

        by_admin = client.post(
            f"{base}/{CITY_B}/districts",
            json=collection(feature("港地区", polygon(139.1, 35.0, 139.2, 35.1))),
            headers=server.auth("admin"),
        )
        assert by_admin.status_code == 201, by_admin.text
        assert [f["properties"]["name"] for f in by_admin.json()["features"]] == ["港地区"]


def test_cli_imports_districts_and_refuses_a_bad_file(tmp_path: Path) -> None:
    boundary = feature("Atown", polygon(139.0, 35.0, 139.1, 35.1))
    boundary["properties"]["N03_007"] = "99998"
    boundary["properties"]["N03_004"] = "Atown"
    boundaries = write(tmp_path / "n03.geojson", collection(boundary))
    assert kizuna_command(tmp_path, "areas", "import", str(boundaries)).returncode == 0

    bad = write(tmp_path / "bad.geojson", collection(feature("西地区", WEST), feature("x", BOWTIE)))
    refused = kizuna_command(
        tmp_path, "areas", "import-districts", str(bad), "--municipality", "99998"
    )
    assert refused.returncode == 2
    assert "features[1].geometry" in refused.stdout
    assert "Self-intersection" in refused.stdout

    good = write(
        tmp_path / "good.geojson",
        collection(feature("西地区", WEST, "N"), feature("東地区", EAST, "N")),
    )
    args = ["areas", "import-districts", str(good), "--municipality", "99998"]
    imported = kizuna_command(tmp_path, *args, "--name-property", "N")
    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert "imported 2 districts of 999989: 2 new, 0 replaced" in imported.stdout
    assert "西地区" in imported.stdout
    again = kizuna_command(tmp_path, *args, "--name-property", "N")
    assert "imported 2 districts of 999989: 0 new, 2 replaced" in again.stdout
    missing_name = kizuna_command(tmp_path, *args)  # the default property "name" is absent
    assert missing_name.returncode == 2
    assert "features[0].properties.name" in missing_name.stdout


def test_demo_city_has_four_districts_tiling_it(tmp_path: Path) -> None:
    result = kizuna_command(tmp_path, "demo", "--subscribers", "10")
    assert result.returncode == 0, result.stdout + result.stderr
    database = Database(Settings(data_dir=tmp_path).resolved_database_url)
    with database.session() as session:
        districts = {d.name: shape(d.geometry) for d in districts_of(session, DEMO_CODE)}
    database.dispose()
    assert sorted(districts) == sorted(["本町地区", "川端地区", "山手地区", "港地区"])
    boundary = demo_boundary()
    total = sum(geometry.area for geometry in districts.values())
    assert total == pytest.approx(boundary.area, rel=1e-9)
    for name, geometry in districts.items():
        assert geometry.area > boundary.area / 10, name
