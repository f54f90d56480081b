"""Residents register places and languages, and change or delete them with their token."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import CITY_A, LiveServer, http

BAD_SUBSCRIPTIONS: list[tuple[str, dict[str, Any], str]] = [
    ("no places", {"places": [], "languages": ["ja"]}, "places"),
    ("longitude out of range", {"places": [{"lon": 200, "lat": 35}]}, "places[0].lon"),
    ("latitude out of range", {"places": [{"lon": 139, "lat": -95}]}, "places[0].lat"),
    ("point without latitude", {"places": [{"lon": 139}]}, "places[0]"),
    (
        "point and code at once",
        {"places": [{"lon": 139, "lat": 35, "municipality_code": CITY_A}]},
        "places[0]",
    ),
    (
        "unknown municipality",
        {"places": [{"municipality_code": "131016"}]},
        "places[0].municipality_code",
    ),
    (
        "malformed municipality",
        {"places": [{"municipality_code": "12ab5"}]},
        "places[0].municipality_code",
    ),
    (
        "unknown language",
        {"places": [{"lon": 139, "lat": 35}], "languages": ["klingon!"]},
        "languages",
    ),
    ("no languages", {"places": [{"lon": 139, "lat": 35}], "languages": []}, "languages"),
]


@pytest.mark.parametrize(
    ("case", "body", "field"), BAD_SUBSCRIPTIONS, ids=[c[0] for c in BAD_SUBSCRIPTIONS]
)
def test_bad_subscription_is_refused_with_its_field(
    server: LiveServer, case: str, body: dict[str, Any], field: str
) -> None:
    response = http.post(f"{server.url}/api/v1/subscriptions", json=body, timeout=30)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field


def test_a_resident_changes_and_deletes_their_subscription_with_its_token(
    server: LiveServer,
) -> None:
    resident = server.subscribe([{"label": "home", "lon": 139.01, "lat": 35.01}], ["en-us"])
    assert resident.body["languages"] == ["en-US"]
    other = server.subscribe([{"lon": 139.02, "lat": 35.02}])
    new_body = {
        "places": [
            {"label": "work", "lon": 139.03, "lat": 35.03},
            {"label": "parents", "municipality_code": CITY_A[:5]},
        ],
        "languages": ["vi", "ja"],
    }
    with server.client() as client:
        url = f"/api/v1/subscriptions/{resident.id}"
        assert client.put(url, json=new_body).status_code == 401
        assert (
            client.put(
                url, json=new_body, headers={"Authorization": f"Bearer {other.token}"}
            ).status_code
            == 403
        )
        changed = client.put(
            url, json=new_body, headers={"Authorization": f"Bearer {resident.token}"}
        )
        assert changed.status_code == 200, changed.text
        assert [p["label"] for p in changed.json()["places"]] == ["work", "parents"]
        assert changed.json()["places"][1]["municipality_code"] == CITY_A
        assert changed.json()["languages"] == ["vi", "ja"]
        assert "token" not in changed.json()

        deleted = client.delete(url, headers={"Authorization": f"Bearer {resident.token}"})
        assert deleted.status_code == 204
        again = client.put(
            url, json=new_body, headers={"Authorization": f"Bearer {resident.token}"}
        )
        assert again.status_code == 401
