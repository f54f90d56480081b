"""Shelter managers keep live state right under concurrency; residents find room nearby."""

from __future__ import annotations

import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from kizuna.auth import create_user
from shelters import service
from shelters.records import ShelterRecord
from tests.support import CITY_A, CITY_B, PASSWORD, LiveServer, alert_body, http


def make_shelters(server: LiveServer, *records: ShelterRecord) -> dict[str, str]:
    """Store shelters; returns source_id → id."""
    with server.runtime.db.session() as session:
        report = service.upsert_shelters(session, list(records), "test")
        assert not report.errors, report.errors
        return {
            r.source_id: session.scalar(
                service.select(service.Shelter.id).where(service.Shelter.source_id == r.source_id)
            )
            for r in records
        }


def shelter(source_id: str, lon: float, lat: float, **fields: Any) -> ShelterRecord:
    values: dict[str, Any] = {
        "kind": "shelter",
        "hazards": ["flood", "earthquake"],
        "capacity": 100,
        "municipality_code": CITY_A,
    }
    values.update(fields)
    return ShelterRecord(
        source_id=source_id, name=f"Shelter {source_id}", lon=lon, lat=lat, **values
    )


def open_shelter(server: LiveServer, shelter_id: str, user: str = "officer-a") -> None:
    with server.client() as client:
        current = client.get(f"/api/v1/shelters/{shelter_id}")
        response = client.patch(
            f"/api/v1/shelters/{shelter_id}",
            json={"status": "open"},
            headers={**server.auth(user), "If-Match": current.headers["ETag"]},
        )
        assert response.status_code == 200, response.text


def test_concurrent_check_ins_admit_exactly_the_capacity(server: LiveServer) -> None:
    ids = make_shelters(server, shelter("gym", 139.01, 35.01, capacity=200))
    gym = ids["gym"]
    open_shelter(server, gym)
    headers = server.auth("officer-a")

    # 400 check-ins from 32 connections at once for 200 places: exactly 200 get in.
    with httpx.Client(
        base_url=server.url, headers=headers, timeout=120, limits=httpx.Limits(max_connections=32)
    ) as client:

        def check_in(_: int) -> int:
            response = client.post(f"/api/v1/shelters/{gym}/occupancy", json={"delta": 1})
            return response.status_code

        with ThreadPoolExecutor(max_workers=32) as pool:
            outcomes = Counter(pool.map(check_in, range(400)))
    assert outcomes == {200: 200, 409: 200}
    state = http.get(f"{server.url}/api/v1/shelters/{gym}").json()
    assert state["occupancy"] == 200
    assert state["status"] == "full"
    assert state["has_room"] is False

    out = http.post(
        f"{server.url}/api/v1/shelters/{gym}/occupancy",
        json={"delta": -1},
        headers=headers,
        timeout=30,
    )
    assert out.json()["status"] == "open"
    assert out.json()["occupancy"] == 199


def test_occupancy_never_goes_below_zero_and_closed_shelters_refuse_check_ins(
    server: LiveServer,
) -> None:
    ids = make_shelters(server, shelter("hall", 139.01, 35.01, capacity=10))
    headers = server.auth("officer-a")
    url = f"{server.url}/api/v1/shelters/{ids['hall']}/occupancy"
    closed = http.post(url, json={"delta": 1}, headers=headers)
    assert closed.status_code == 409
    assert closed.json()["error"]["code"] == "shelter_closed"
    open_shelter(server, ids["hall"])
    assert http.post(url, json={"delta": 3}, headers=headers).json()["occupancy"] == 3
    below = http.post(url, json={"delta": -4}, headers=headers)
    assert below.status_code == 409
    assert below.json()["error"]["code"] == "below_zero"
    assert http.post(url, json={"delta": 0}, headers=headers).status_code == 422


def test_a_stale_write_gets_412_and_the_current_state(server: LiveServer) -> None:
    ids = make_shelters(server, shelter("school", 139.01, 35.01, capacity=50))
    url = f"{server.url}/api/v1/shelters/{ids['school']}"
    headers = server.auth("officer-a")
    first = http.get(url)
    tag = first.headers["ETag"]
    ok = http.patch(
        url,
        json={"wifi": {"status": "up", "ssid": "00000JAPAN"}},
        headers={**headers, "If-Match": tag},
    )
    assert ok.status_code == 200
    assert ok.json()["wifi"]["ssid"] == "00000JAPAN"
    assert ok.headers["ETag"] != tag
    stale = http.patch(url, json={"needs": {"water": 200}}, headers={**headers, "If-Match": tag})
    assert stale.status_code == 412
    assert stale.json()["current"]["wifi"]["status"] == "up"
    assert stale.json()["current"]["needs"] == {}
    missing = http.patch(url, json={"needs": {"water": 200}}, headers=headers)
    assert missing.status_code == 428
    over = http.patch(
        url, json={"occupancy": 60}, headers={**headers, "If-Match": ok.headers["ETag"]}
    )
    assert over.status_code == 409
    forced = http.patch(
        url,
        json={"occupancy": 60, "override": True, "status": "open"},
        headers={**headers, "If-Match": ok.headers["ETag"]},
    )
    assert forced.status_code == 200
    assert forced.json()["status"] == "full"
    history = http.get(f"{url}/history", headers=headers).json()
    assert [h["wifi_status"] for h in history] == ["up", "up"]
    assert history[-1]["occupancy"] == 60
    assert {h["actor"] for h in history} == {"officer-a"}
    # The public sees what changed and when, not which member of staff changed it.
    public = http.get(f"{url}/history").json()
    assert [h["occupancy"] for h in public] == [h["occupancy"] for h in history]
    assert {h["actor"] for h in public} == {None}


def test_only_its_manager_or_an_officer_of_its_city_may_write_a_shelter(
    server: LiveServer,
) -> None:
    ids = make_shelters(
        server,
        shelter("mine", 139.01, 35.01),
        shelter("theirs", 139.02, 35.02),
        shelter("b-side", 139.15, 35.05, municipality_code=CITY_B),
    )
    with server.runtime.db.session() as session:
        create_user(
            session, server.runtime.settings, "manager-2", PASSWORD, "shelter_manager", [CITY_A]
        )
    with server.client() as client:
        assign = client.post(
            f"/api/v1/shelters/{ids['mine']}/managers",
            json={"username": "shelter-manager"},
            headers=server.auth("officer-a"),
        )
        assert assign.status_code == 204, assign.text
        for key, user, expected in [
            ("mine", "shelter-manager", 200),
            ("theirs", "shelter-manager", 403),
            ("mine", "manager-2", 403),
            ("b-side", "officer-a", 403),
            ("b-side", "officer-b", 200),
            ("mine", "volunteer", 403),
        ]:
            tag = client.get(f"/api/v1/shelters/{ids[key]}").headers["ETag"]
            response = client.patch(
                f"/api/v1/shelters/{ids[key]}",
                json={"status": "open"},
                headers={**server.auth(user), "If-Match": tag},
            )
            assert response.status_code == expected, (key, user, response.text)


def test_search_sorts_by_geodesic_distance_and_filters_room_and_hazard(
    server: LiveServer,
) -> None:
    ids = make_shelters(
        server,
        shelter("near", 139.011, 35.01),
        shelter("far", 139.05, 35.01),
        shelter("full", 139.0105, 35.0105, capacity=1),
        shelter("tsunami-only", 139.012, 35.01, hazards=["tsunami"]),
    )
    for key in ids:
        open_shelter(server, ids[key])
    headers = server.auth("officer-a")
    http.post(
        f"{server.url}/api/v1/shelters/{ids['full']}/occupancy", json={"delta": 1}, headers=headers
    )
    params: dict[str, Any] = {"lon": 139.01, "lat": 35.01, "radius_m": 10000}
    everything = http.get(f"{server.url}/api/v1/shelters", params=params).json()
    assert [s["source_id"] for s in everything] == ["full", "near", "tsunami-only", "far"]
    # 0.001 degrees of longitude at 35 N is about 91.3 m.
    assert everything[1]["distance_m"] == pytest.approx(91.3, abs=0.5)
    with_room = http.get(
        f"{server.url}/api/v1/shelters", params={**params, "has_room": "true", "hazard": "flood"}
    ).json()
    assert [s["source_id"] for s in with_room] == ["near", "far"]
    near_only = http.get(
        f"{server.url}/api/v1/shelters", params={**params, "radius_m": 1000}
    ).json()
    assert "far" not in [s["source_id"] for s in near_only]
    geojson = http.get(
        f"{server.url}/api/v1/shelters", params=params, headers={"Accept": "application/geo+json"}
    )
    assert geojson.headers["content-type"].startswith("application/geo+json")
    assert geojson.json()["features"][0]["geometry"]["coordinates"] == [139.0105, 35.0105]
    bad = http.get(f"{server.url}/api/v1/shelters", params={**params, "hazard": "zombies"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "hazard"
    off_globe = http.get(f"{server.url}/api/v1/shelters", params={"lon": 200, "lat": 35})
    assert off_globe.status_code == 422


def test_registry_rows_are_checked_and_reimport_updates_in_place(server: LiveServer) -> None:
    with server.runtime.db.session() as session:
        first = service.upsert_shelters(
            session,
            [
                shelter("a", 139.01, 35.01),
                shelter("b", 139.02, 35.02, capacity=-1, line=3),
                shelter("c", 200.0, 35.0, line=4),
                shelter("d", 100.0, 10.0, line=5),
                shelter("e", 139.0, 35.0, hazards=["zombies"], line=6),
            ],
            "test",
        )
        assert (first.created, first.updated) == (2, 0)
        assert sorted((p.line, p.warning) for p in first.problems) == [
            (3, False),
            (4, False),
            (5, True),
            (6, False),
        ]
        again = service.upsert_shelters(
            session, [shelter("a", 139.01, 35.01, capacity=120)], "test"
        )
        assert (again.created, again.updated) == (0, 1)


def test_the_live_board_gets_a_snapshot_then_each_change(server: LiveServer) -> None:
    ids = make_shelters(server, shelter("board", 139.01, 35.01, capacity=5))
    with connect(f"ws://127.0.0.1:{server.port}/ws/shelters?municipality={CITY_A}") as board:
        snapshot = json.loads(board.recv(timeout=10))
        assert snapshot["type"] == "snapshot"
        assert [s["source_id"] for s in snapshot["shelters"]] == ["board"]
        open_shelter(server, ids["board"])
        opened = json.loads(board.recv(timeout=10))
        assert opened["shelter"]["status"] == "open"
        http.post(
            f"{server.url}/api/v1/shelters/{ids['board']}/occupancy",
            json={"delta": 5},
            headers=server.auth("officer-a"),
        )
        full = json.loads(board.recv(timeout=10))
        assert (full["shelter"]["occupancy"], full["shelter"]["status"]) == (5, "full")


def test_an_evacuation_order_carries_the_nearest_open_shelters_with_room(
    server: LiveServer,
) -> None:
    ids = make_shelters(
        server,
        shelter("s1", 139.021, 35.02),
        shelter("s2", 139.022, 35.02),
        shelter("s3", 139.023, 35.02),
        shelter("s4", 139.024, 35.02),
        shelter("closed", 139.0205, 35.02),
        shelter("tsunami", 139.0201, 35.02, hazards=["tsunami"]),
        shelter("full", 139.0202, 35.02, capacity=1),
    )
    for key in ("s1", "s2", "s3", "s4", "tsunami", "full"):
        open_shelter(server, ids[key])
    http.post(
        f"{server.url}/api/v1/shelters/{ids['full']}/occupancy",
        json={"delta": 1},
        headers=server.auth("officer-a"),
    )
    resident = server.subscribe([{"label": "home", "lon": 139.02, "lat": 35.02}], ["en"])
    sock = server.connect(resident)
    server.draft_and_issue(**{**alert_body(), "hazard": "flood", "evacuation_level": 4})
    [message] = sock.alerts(expect=1)
    [home] = message["shelters"]
    assert home["place"] == "home"
    assert [s["name"] for s in home["nearest"]] == ["Shelter s1", "Shelter s2", "Shelter s3"]
    assert home["nearest"][0]["distance_m"] < home["nearest"][1]["distance_m"]
    sock.close()
