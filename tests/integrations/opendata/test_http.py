"""`POST /api/v1/shelters/import` as officers and admins use it, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import httpx
from pyproj import Transformer

from tests.support import CITY_A, CITY_B, LiveServer

IMPORT = "/api/v1/shelters/import"
CITY_CSV = (
    "ID,名称,住所,緯度,経度,想定収容人数,災害種別_洪水,災害種別_地震\n"
    "K-1,絆第一小学校,絆市本町1,35.01,139.01,屋内300人／屋外900人(面積の1/2),1,1\n"
    "K-2,絆公民館,絆市本町2,35.02,139.02,120,,1\n"
    "K-3,絆体育館,絆市本町3,,139.03,500,1,\n"
)


def listed(client: httpx.Client, server: LiveServer) -> dict[str, dict[str, Any]]:
    response = client.get(
        "/api/v1/shelters",
        params={"municipality": CITY_A, "limit": 500},
        headers=server.auth("officer-a"),
    )
    assert response.status_code == 200, response.text
    return {s["name"]: s for s in response.json()}


def test_an_officer_imports_a_file_and_importing_it_again_changes_nothing(
    server: LiveServer,
) -> None:
    with server.client() as client:
        # Multipart upload; officer-a acts for one city, so rows without a code are theirs.
        first = client.post(
            IMPORT,
            files={"file": ("kizuna_shinai.csv", CITY_CSV.encode("cp932"), "text/csv")},
            headers=server.auth("officer-a"),
        )
        assert first.status_code == 200, first.text
        body = first.json()
        assert (body["created"], body["updated"], body["unchanged"]) == (2, 0, 0)
        assert body["encoding"] == "shift_jis"
        assert body["errors"] == [{"line": 4, "reason": "緯度 is empty"}]
        shelters = listed(client, server)
        assert set(shelters) == {"絆第一小学校", "絆公民館"}
        school = shelters["絆第一小学校"]
        assert (school["capacity"], school["kind"]) == (1200, "evacuation_site")
        assert school["hazards"] == ["earthquake", "flood"]

        # The same file as a raw body, naming the municipality.
        again = client.post(
            IMPORT,
            params={"municipality": CITY_A},
            content=CITY_CSV.encode(),
            headers={**server.auth("officer-a"), "content-type": "text/csv"},
        )
        assert again.status_code == 200, again.text
        assert (again.json()["created"], again.json()["unchanged"]) == (0, 2)
        assert len(listed(client, server)) == 2


def test_officers_import_only_into_their_own_municipalities(server: LiveServer) -> None:
    stated = CITY_CSV.replace("ID,", "全国地方公共団体コード,ID,").replace("\nK-", f"\n{CITY_A},K-")
    with server.client() as client:
        named = client.post(
            IMPORT,
            params={"municipality": CITY_A},
            content=CITY_CSV.encode(),
            headers=server.auth("officer-b"),
        )
        assert named.status_code == 403
        assert named.json()["error"]["field"] == "municipality"
        in_file = client.post(IMPORT, content=stated.encode(), headers=server.auth("officer-b"))
        assert in_file.status_code == 403
        assert CITY_A in in_file.json()["error"]["message"]
        for role in ("shelter-manager", "media"):
            refused = client.post(IMPORT, content=CITY_CSV.encode(), headers=server.auth(role))
            assert refused.status_code == 403
        anonymous = client.post(IMPORT, content=CITY_CSV.encode())
        assert anonymous.status_code == 401
        assert listed(client, server) == {}

        # A file mixing both cities: officer-a's rows are imported, city B's are row errors.
        mixed = stated.replace(f"\n{CITY_A},K-2", f"\n{CITY_B},K-2")
        partly = client.post(IMPORT, content=mixed.encode(), headers=server.auth("officer-a"))
        assert partly.status_code == 200, partly.text
        assert partly.json()["created"] == 1
        assert {"line": 3, "reason": f"municipality {CITY_B} is not one you act for"} in (
            partly.json()["errors"]
        )
        assert set(listed(client, server)) == {"絆第一小学校"}


def test_unreadable_files_are_refused_with_422_naming_the_problem(server: LiveServer) -> None:
    with server.client() as client:
        no_header = client.post(
            IMPORT,
            files={"file": ("x.csv", b"title,status,date\nfoo,open,2024\n", "text/csv")},
            headers=server.auth("officer-a"),
        )
        assert no_header.status_code == 422
        error = no_header.json()["error"]
        assert error["field"] == "file"
        assert "no recognisable header" in error["message"]
        utf16 = client.post(
            IMPORT, content=CITY_CSV.encode("utf-16"), headers=server.auth("officer-a")
        )
        assert utf16.status_code == 422
        assert utf16.json()["error"]["code"] == "bad_encoding"
        bad_map = client.post(
            IMPORT,
            params={"map": "北緯=latitude"},
            content=CITY_CSV.encode(),
            headers=server.auth("officer-a"),
        )
        assert bad_map.status_code == 422
        assert bad_map.json()["error"]["field"] == "map"
        no_file = client.post(
            IMPORT, files={"note": (None, "no file here")}, headers=server.auth("officer-a")
        )
        assert no_file.status_code == 422
        assert "no file part" in no_file.json()["error"]["message"]
        assert listed(client, server) == {}


def test_an_admin_imports_a_projected_geojson_with_a_column_map(server: LiveServer) -> None:
    # EPSG:6677 = JGD2011 / Japan Plane Rectangular CS IX (Tokyo and around).
    east, north = Transformer.from_crs("EPSG:4326", "EPSG:6677", always_xy=True).transform(
        139.05, 35.05
    )
    document = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::6677"}},
        "features": [
            {
                "type": "Feature",
                "properties": {"番号": "G-1", "施設": "絆中央公園", "人員": "5,000"},
                "geometry": {"type": "Point", "coordinates": [east, north]},
            }
        ],
    }
    with server.client() as client:
        response = client.post(
            IMPORT,
            params=[
                ("filename", f"emergency_{CITY_A}_kizuna.geojson"),
                ("map", "番号=source_id"),
                ("map", "施設=name"),
                ("map", "人員=capacity"),
            ],
            content=json.dumps(document, ensure_ascii=False).encode(),
            headers={**server.auth("admin"), "content-type": "application/geo+json"},
        )
        assert response.status_code == 200, response.text
        assert (response.json()["created"], response.json()["format"]) == (1, "mapped_geojson")
        park = listed(client, server)["絆中央公園"]
        assert (park["kind"], park["capacity"]) == ("evacuation_site", 5000)
        assert abs(park["lon"] - 139.05) < 1e-6 and abs(park["lat"] - 35.05) < 1e-6
