"""An alert whose area is picked as districts (地区) reaches exactly the residents inside them."""

from __future__ import annotations

from typing import Any

import pytest

from alerts.schemas import AreaIn
from alerts.service import resolve_area
from kizuna.areas import store_districts
from kizuna.errors import InvalidInput
from tests.support import CITY_A, CITY_B, LiveServer, alert_body, polygon


def seed_districts(server: LiveServer) -> dict[str, str]:
    """City A split into 西地区 (west) and 東地区 (east), city B as one 港地区; name → id."""

    def features(*named: tuple[str, dict[str, Any]]) -> dict[str, Any]:
        return {
            "type": "FeatureCollection",
            "features": [
                {"type": "Feature", "properties": {"name": name}, "geometry": geometry}
                for name, geometry in named
            ],
        }

    ids: dict[str, str] = {}
    with server.runtime.db.session() as session:
        for code, collection in (
            (
                CITY_A,
                features(
                    ("西地区", polygon(139.0, 35.0, 139.05, 35.1)),
                    ("東地区", polygon(139.05, 35.0, 139.1, 35.1)),
                ),
            ),
            (CITY_B, features(("港地区", polygon(139.1, 35.0, 139.2, 35.1)))),
        ):
            for district in store_districts(session, code, collection).districts:
                ids[district.name] = district.id
    return ids


def test_district_alert_reaches_only_residents_inside_the_district(server: LiveServer) -> None:
    ids = seed_districts(server)
    west = server.subscribe([{"label": "home", "lon": 139.02, "lat": 35.05}], ["ja"])
    east = server.subscribe([{"label": "home", "lon": 139.08, "lat": 35.05}], ["ja"])
    city_b = server.subscribe([{"label": "home", "lon": 139.15, "lat": 35.05}], ["ja"])
    sockets = {r.id: server.connect(r) for r in (west, east, city_b)}
    area = {"district_ids": [ids["西地区"]]}

    with server.client() as client:
        preview = client.post(
            "/api/v1/alerts/preview", json={"area": area}, headers=server.auth("officer-a")
        )
        assert preview.status_code == 200, preview.text
        assert preview.json()["recipients"] == 1
        both = client.post(
            "/api/v1/alerts/preview",
            json={"area": {"district_ids": [ids["西地区"], ids["東地区"]]}},
            headers=server.auth("officer-a"),
        )
        assert both.json()["recipients"] == 2
        # Districts union with the other parts: a small circle around the east resident.
        mixed = client.post(
            "/api/v1/alerts/preview",
            json={"area": {**area, "circles": [{"lon": 139.08, "lat": 35.05, "radius_km": 0.5}]}},
            headers=server.auth("officer-a"),
        )
        assert mixed.json()["recipients"] == 2

    issued = server.draft_and_issue(area=area)
    assert issued["recipients"] == 1
    got = {rid: sock.alerts(expect=1 if rid == west.id else 0) for rid, sock in sockets.items()}
    assert [m["alert_id"] for m in got[west.id]] == [issued["id"]]
    assert got[east.id] == []
    assert got[city_b.id] == []
    for sock in sockets.values():
        sock.close()

    with server.client() as client:
        stored = client.get(f"/api/v1/alerts/{issued['id']}", headers=server.auth("officer-a"))
        assert stored.json()["content"]["area"]["district_ids"] == [ids["西地区"]]


def test_unknown_or_foreign_district_is_refused_naming_the_field(server: LiveServer) -> None:
    ids = seed_districts(server)
    with server.client() as client:
        for path, body in (
            ("/api/v1/alerts/preview", {"area": {"district_ids": ["no-such-district"]}}),
            (
                "/api/v1/alerts",
                alert_body(area={"district_ids": [ids["西地区"], "no-such-district"]}),
            ),
        ):
            unknown = client.post(path, json=body, headers=server.auth("officer-a"))
            assert unknown.status_code == 422, unknown.text
            error = unknown.json()["error"]
            expected = "area.district_ids[0]" if "preview" in path else "area.district_ids[1]"
            assert error["field"] == expected
            assert "unknown district no-such-district" in error["message"]

        too_many = client.post(
            "/api/v1/alerts/preview",
            json={"area": {"district_ids": [ids["西地区"]] * 201}},
            headers=server.auth("officer-a"),
        )
        assert too_many.status_code == 422
        assert too_many.json()["error"]["field"] == "area.district_ids"

        # City B's district is not officer-a's to alert, and nothing is stored.
        foreign = client.post(
            "/api/v1/alerts",
            json=alert_body(area={"district_ids": [ids["港地区"]]}),
            headers=server.auth("officer-a"),
        )
        assert (foreign.status_code, foreign.json()["error"]["field"]) == (
            422,
            "area.district_ids[0]",
        ), foreign.text
        listed = client.get("/api/v1/alerts", headers=server.auth("officer-a")).json()
        assert listed == []


def test_resolved_area_names_its_districts_and_checks_their_municipality(
    server: LiveServer,
) -> None:
    ids = seed_districts(server)
    with server.runtime.db.session() as session:
        picked = AreaIn(district_ids=[ids["西地区"], ids["東地区"], ids["西地区"]])
        resolved = resolve_area(session, picked, district_scope=[CITY_A])
        assert resolved.description == "Atown 西地区、東地区"
        assert resolved.geometry.bounds == (139.0, 35.0, 139.1, 35.1)
        with_city = resolve_area(
            session, AreaIn(municipality_codes=[CITY_B], district_ids=[ids["東地区"]])
        )
        assert with_city.description == "Btown, Atown 東地区"
        with pytest.raises(InvalidInput) as foreign:
            resolve_area(
                session,
                AreaIn(district_ids=[ids["西地区"], ids["港地区"]]),
                district_scope=[CITY_A],
            )
        assert foreign.value.field == "area.district_ids[1]"
        assert "港地区 belongs to municipality 999997" in foreign.value.message
