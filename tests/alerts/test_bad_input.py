"""Every bad alert is refused with a 4xx in the one error shape, and nothing is stored or sent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest

from tests.support import CITY_A, CITY_B, LiveServer, alert_body, http, polygon

BOW_TIE = {
    "type": "Polygon",
    "coordinates": [
        [[139.0, 35.0], [139.05, 35.05], [139.05, 35.0], [139.0, 35.05], [139.0, 35.0]]
    ],
}
UNCLOSED = {
    "type": "Polygon",
    "coordinates": [[[139.0, 35.0], [139.05, 35.0], [139.05, 35.05], [139.0, 35.05]]],
}
SWAPPED = {
    "type": "Polygon",
    "coordinates": [[[35.0, 139.0], [35.05, 139.0], [35.05, 139.05], [35.0, 139.0]]],
}

BAD_ALERTS: list[tuple[str, dict[str, Any], int, str]] = [
    ("self-intersecting polygon", {"area": {"geometry": BOW_TIE}}, 422, "area.geometry"),
    ("unclosed polygon", {"area": {"geometry": UNCLOSED}}, 422, "area.geometry.coordinates[0]"),
    (
        "swapped coordinates",
        {"area": {"geometry": SWAPPED}},
        422,
        "area.geometry.coordinates[0][0]",
    ),
    ("empty area", {"area": {}}, 422, "area"),
    (
        "unknown municipality",
        {"area": {"municipality_codes": ["01100"]}},
        422,
        "area.municipality_codes[0]",
    ),
    (
        "bad check digit",
        {"area": {"municipality_codes": ["999980"]}},
        422,
        "area.municipality_codes[0]",
    ),
    (
        "area in another city",
        {"area": {"geometry": polygon(139.12, 35.0, 139.18, 35.1)}},
        403,
        "area",
    ),
    (
        "another city's code",
        {"area": {"municipality_codes": [CITY_B]}},
        403,
        "area.municipality_codes[0]",
    ),
    (
        "expires in the past",
        {"expires": (datetime.now(UTC) - timedelta(minutes=1)).isoformat()},
        422,
        "expires",
    ),
    ("expires without a timezone", {"expires": "2030-01-01T00:00:00"}, 422, "expires"),
    (
        "unknown language",
        {"info": [{"language": "xx-notalang", "headline": "h", "description": "d"}]},
        422,
        "info[0].language",
    ),
    ("missing info", {"info": []}, 422, "info"),
    ("evacuation level 6", {"evacuation_level": 6}, 422, "evacuation_level"),
    ("unknown severity", {"severity": "Apocalyptic"}, 422, "severity"),
    (
        "circle with negative radius",
        {"area": {"circles": [{"lon": 139.02, "lat": 35.02, "radius_km": -1}]}},
        422,
        "area.circles[0].radius_km",
    ),
]


def alert_count(server: LiveServer) -> int:
    response = http.get(f"{server.url}/api/v1/alerts", headers=server.auth("admin"), timeout=30)
    return len(response.json())


@pytest.mark.parametrize(
    ("case", "overrides", "status", "field"), BAD_ALERTS, ids=[case[0] for case in BAD_ALERTS]
)
def test_bad_alert_is_refused_with_its_field_and_nothing_is_stored(
    server: LiveServer, case: str, overrides: dict[str, Any], status: int, field: str
) -> None:
    body = alert_body(**overrides)
    response = http.post(
        f"{server.url}/api/v1/alerts", json=body, headers=server.auth("officer-a"), timeout=30
    )
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"code", "message", "field"}
    assert error["field"] == field, error
    assert error["message"]
    assert alert_count(server) == 0


def test_self_intersection_is_explained(server: LiveServer) -> None:
    response = http.post(
        f"{server.url}/api/v1/alerts",
        json=alert_body(area={"geometry": BOW_TIE}),
        headers=server.auth("officer-a"),
        timeout=30,
    )
    assert "Self-intersection" in response.json()["error"]["message"]


def test_issuing_twice_and_updating_a_cancelled_alert_are_conflicts(server: LiveServer) -> None:
    resident = server.subscribe([{"lon": 139.01, "lat": 35.01}])
    issued = server.draft_and_issue()
    headers = server.auth("officer-a")
    with server.client() as client:
        again = client.post(f"/api/v1/alerts/{issued['id']}/issue", headers=headers)
        assert again.status_code == 409
        assert again.json()["error"]["code"] == "already_issued"
        assert client.post(f"/api/v1/alerts/{issued['id']}/cancel", headers=headers).is_success
        update = client.post(
            f"/api/v1/alerts/{issued['id']}/update", json={"severity": "Extreme"}, headers=headers
        )
        assert update.status_code == 409
        assert update.json()["error"]["code"] == "cancelled"
        twice = client.post(f"/api/v1/alerts/{issued['id']}/cancel", headers=headers)
        assert twice.status_code == 409
        versions = client.get(f"/api/v1/alerts/{issued['id']}", headers=headers).json()["versions"]
    assert [v["msg_type"] for v in versions] == ["Alert", "Cancel"]
    # Offline the whole time: on connecting they learn only that the order was lifted.
    sock = server.connect(resident)
    assert [m["msg_type"] for m in sock.alerts(expect=1)] == ["Cancel"]
    sock.close()


def test_an_officer_cannot_touch_another_citys_alert(server: LiveServer) -> None:
    issued = server.draft_and_issue()
    with server.client() as client:
        response = client.post(
            f"/api/v1/alerts/{issued['id']}/cancel", headers=server.auth("officer-b")
        )
        assert response.status_code == 403
        drafted = client.post(
            "/api/v1/alerts", json=alert_body(), headers=server.auth("officer-a")
        ).json()
        # Drafts are private to their city's officers.
        assert (
            client.get(
                f"/api/v1/alerts/{drafted['id']}", headers=server.auth("officer-b")
            ).status_code
            == 404
        )
        assert (
            client.post(
                f"/api/v1/alerts/{drafted['id']}/issue", headers=server.auth("officer-b")
            ).status_code
            == 404
        )


def test_resident_token_and_other_roles_are_refused_on_officer_routes(server: LiveServer) -> None:
    resident = server.subscribe([{"lon": 139.01, "lat": 35.01}])
    with server.client() as client:
        as_resident = client.post(
            "/api/v1/alerts",
            json=alert_body(),
            headers={"Authorization": f"Bearer {resident.token}"},
        )
        assert as_resident.status_code == 401
        assert as_resident.json()["error"]["code"] == "not_authenticated"
        anonymous = client.post("/api/v1/alerts", json=alert_body())
        assert anonymous.status_code == 401
        for role in ("shelter-manager", "responder", "volunteer", "media"):
            response = client.post("/api/v1/alerts", json=alert_body(), headers=server.auth(role))
            assert response.status_code == 403, role
    assert alert_count(server) == 0


def test_an_expired_jwt_is_refused(server: LiveServer) -> None:
    valid = jwt.decode(server.login("officer-a"), options={"verify_signature": False})
    past = datetime.now(UTC) - timedelta(hours=2)
    expired = jwt.encode(
        {
            **valid,
            "iat": int(past.timestamp()),
            "exp": int((past + timedelta(hours=1)).timestamp()),
        },
        server.settings.resolved_secret_key(),
        algorithm="HS256",
    )
    forged = jwt.encode(valid, "some-other-key-entirely-not-ours-at-all", algorithm="HS256")
    with server.client() as client:
        response = client.get("/api/v1/alerts", headers={"Authorization": f"Bearer {expired}"})
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "token_expired"
        response = client.get("/api/v1/alerts", headers={"Authorization": f"Bearer {forged}"})
        assert response.status_code == 401


def test_wrong_password_is_refused_without_saying_which_part_was_wrong(server: LiveServer) -> None:
    with server.client() as client:
        wrong = client.post(
            "/api/v1/auth/token", data={"username": "officer-a", "password": "nope-nope-nope"}
        )
        unknown = client.post(
            "/api/v1/auth/token", data={"username": "nobody", "password": "nope-nope-nope"}
        )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


def test_an_area_for_officer_a_municipality_code_is_accepted(server: LiveServer) -> None:
    issued = server.draft_and_issue(area={"municipality_codes": [CITY_A[:5]]})
    assert issued["recipients"] == 0
