"""The authorisation matrix: every route × every principal, and municipality scoping.

`TABLE` says, for each route of the app and each principal (anonymous, a resident's
subscription token, one user of each role), whether the request must get past authorisation:

- ``A`` allow: any answer but 401/403/404 (a 409 or 422 is a refusal of the content, not of
  the caller). The objects named in the path are real, so a 404 means "hidden from you".
- ``D`` deny: 401, 403, or 404 on a real object (the API hides drafts and others' objects).
- ``S`` scope: allowed here because the principal acts for the object (officer-a on city A's
  objects, the assigned shelter manager, the responder offered the dispatch, the volunteer
  holding the claim, the resident who asked, the media account owning the webhook); the
  scoping tests below show that one who does not act for it is refused and changes nothing.

A route missing from the table, or a table row naming no route, fails the test: a new route is
classified on purpose. The observed matrix is written to test-artifacts/authorization-matrix.md.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, APIWebSocketRoute, iter_route_contexts
from sqlalchemy import func, select
from starlette.routing import Mount, Route, WebSocketRoute
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from alerts.models import Alert
from dispatch.models import Dispatch
from kizuna.auth import create_user
from kizuna.db import Database
from kizuna.models import District
from kizuna.settings import Settings
from mutual_aid.models import AidRequest
from shelters import service as shelter_service
from shelters.models import Shelter, ShelterManager
from shelters.records import ShelterRecord
from tests.support import (
    CITY_A,
    CITY_B,
    PASSWORD,
    LiveServer,
    alert_body,
    make_settings,
    polygon,
    seed_basics,
    start_server,
)

ARTIFACT = Path(__file__).resolve().parents[2] / "test-artifacts" / "authorization-matrix.md"
PRINCIPALS = (
    "anonymous",
    "resident",
    "admin",
    "officer",
    "shelter_manager",
    "responder",
    "volunteer",
    "media",
)
# The user each role column logs in as (all of city A but the admin).
USERS = {
    "admin": "admin",
    "officer": "officer-a",
    "shelter_manager": "shelter-manager",
    "responder": "responder",
    "volunteer": "volunteer",
    "media": "media",
}
WORDS = {"A": "allow", "D": "deny", "S": "scope"}
# Not the app's own routes: FastAPI's documentation pages.
SKIPPED = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}

# fmt: off
# Columns:                                                    anon res adm off shm rsp vol med
TABLE_ROWS: dict[tuple[str, str], str] = {
    # Shell and operations. /metrics answers loopback clients (this test is one) without a token.
    ("POST", "/api/v1/auth/token"):                               "A A A A A A A A",
    ("GET", "/api/v1/auth/me"):                                   "D D A A A A A A",
    ("GET", "/healthz"):                                          "A A A A A A A A",
    ("GET", "/metrics"):                                          "A A A A A A A A",
    ("GET", "/readyz"):                                           "A A A A A A A A",
    ("GET", "/api/v1/audit"):                                     "D D A D D D D D",
    # Alerts: officers of the area's municipality (admins anywhere).
    ("POST", "/api/v1/alerts"):                                   "D D A S D D D D",
    ("POST", "/api/v1/alerts/preview"):                           "D D A S D D D D",
    ("POST", "/api/v1/alerts/{alert_id}/issue"):                  "D D A S D D D D",
    ("POST", "/api/v1/alerts/{alert_id}/update"):                 "D D A S D D D D",
    ("POST", "/api/v1/alerts/{alert_id}/cancel"):                 "D D A S D D D D",
    ("GET", "/api/v1/alerts"):                                    "D D A A A A A A",
    # A draft (the matrix asks for one): only its municipality's officers see it.
    ("GET", "/api/v1/alerts/{alert_id}"):                         "D D A S D D D D",
    ("GET", "/api/v1/alerts/{alert_id}/cap"):                     "D D A S D D D D",
    ("POST", "/api/v1/alerts/{alert_id}/approval"):               "D D A S D D D D",
    # Asked by officer-a2, decided by officer-a or the admin.
    ("POST", "/api/v1/alerts/{alert_id}/approval/approve"):       "D D A S D D D D",
    ("POST", "/api/v1/alerts/{alert_id}/approval/reject"):        "D D A S D D D D",
    # Asked by officer-a: only the one who asked withdraws; the admin approves or rejects.
    ("DELETE", "/api/v1/alerts/{alert_id}/approval"):             "D D D S D D D D",
    ("GET", "/api/v1/approvals"):                                 "D D A A D D D D",
    ("GET", "/api/v1/alerts/{alert_id}/deliveries"):              "D D A S D D D A",
    ("POST", "/api/v1/receipts"):                                 "A A A A A A A A",
    ("POST", "/api/v1/subscriptions"):                            "A A A A A A A A",
    ("PUT", "/api/v1/subscriptions/{subscription_id}"):           "D S D D D D D D",
    ("DELETE", "/api/v1/subscriptions/{subscription_id}"):        "D S D D D D D D",
    ("WS", "/ws/alerts"):                                         "D A D D D D D D",
    # Shelters: public to read; written by its managers and its municipality's officers.
    ("GET", "/api/v1/shelters"):                                  "A A A A A A A A",
    ("GET", "/api/v1/shelters/{shelter_id}"):                     "A A A A A A A A",
    ("PATCH", "/api/v1/shelters/{shelter_id}"):                   "D D A S S D D D",
    ("POST", "/api/v1/shelters/{shelter_id}/occupancy"):          "D D A S S D D D",
    ("GET", "/api/v1/shelters/{shelter_id}/history"):             "A A A A A A A A",
    ("POST", "/api/v1/shelters/{shelter_id}/managers"):           "D D A S D D D D",
    ("GET", "/api/v1/shelters/me/managed"):                       "D D A A A A A A",
    ("WS", "/ws/shelters"):                                       "A A A A A A A A",
    ("POST", "/api/v1/shelters/import"):                          "D D A S D D D D",
    # Dispatch.
    ("GET", "/api/v1/responders/me"):                             "D D D D D A D D",
    ("PUT", "/api/v1/responders/me"):                             "D D D D D A D D",
    ("GET", "/api/v1/responders/me/offers"):                      "D D D D D A D D",
    ("GET", "/api/v1/responders"):                                "D D A S D D D D",
    ("POST", "/api/v1/incidents"):                                "D D A S D D D D",
    ("GET", "/api/v1/incidents/{incident_id}"):                   "D D A S D S D D",
    ("POST", "/api/v1/incidents/{incident_id}/dispatches"):       "D D A S D D D D",
    ("POST", "/api/v1/shelters/{shelter_id}/staff"):              "D D A S D D D D",
    ("POST", "/api/v1/dispatches/{dispatch_id}/responses"):       "D D D D D S D D",
    ("POST", "/api/v1/dispatches/{dispatch_id}/status"):          "D D D D D S D D",
    ("POST", "/api/v1/dispatches/{dispatch_id}/cancel"):          "D D A S D D D D",
    ("WS", "/ws/responders"):                                     "D D D D D A D D",
    # Mutual aid: residents ask (staff on their behalf); volunteers claim.
    ("POST", "/api/v1/aid/requests"):                             "D A A A A D D D",
    ("GET", "/api/v1/aid/requests/nearby"):                       "D D D D D D A D",
    # An open request: volunteers see it (rounded), the requester and staff in full.
    ("GET", "/api/v1/aid/requests/{request_id}"):                 "D S A S S D A D",
    ("POST", "/api/v1/aid/requests/{request_id}/claim"):          "D D D D D D A D",
    ("POST", "/api/v1/aid/requests/{request_id}/release"):        "D D D D D D S D",
    ("POST", "/api/v1/aid/requests/{request_id}/start"):          "D D D D D D S D",
    ("POST", "/api/v1/aid/requests/{request_id}/complete"):       "D D D D D D S D",
    ("POST", "/api/v1/aid/requests/{request_id}/cancel"):         "D S A S D D D D",
    ("POST", "/api/v1/aid/requests/{request_id}/hide"):           "D D A S S D D D",
    ("PUT", "/api/v1/aid/volunteers/me"):                         "D D D D D D A D",
    ("GET", "/api/v1/aid/volunteers/me"):                         "D D D D D D A D",
    ("POST", "/api/v1/aid/match"):                                "D D A A D D D D",
    ("WS", "/ws/aid"):                                            "D A A A A A A A",
    # Formats in and out. Imports make drafts (issued only for trusted senders).
    # An officer's trusted import reaches only their own cities (see the import test below).
    ("GET", "/api/v1/alerts/{alert_id}/lalert"):                  "A A A A A A A A",
    ("POST", "/api/v1/integrations/cap"):                         "D D A A D D D A",
    ("GET", "/feeds/cap.atom"):                                   "A A A A A A A A",
    ("POST", "/api/v1/integrations/jma"):                         "D D A A D D D A",
    ("POST", "/api/v1/integrations/lalert"):                      "D D A A D D D A",
    ("GET", "/feeds/lalert/{municipality_code}.xml"):             "A A A A A A A A",
    ("GET", "/api/v1/webpush/public-key"):                        "A A A A A A A A",
    ("PUT", "/api/v1/subscriptions/{subscription_id}/webpush"):   "D S D D D D D D",
    ("GET", "/api/v1/subscriptions/{subscription_id}/webpush"):   "D S D D D D D D",
    ("DELETE", "/api/v1/subscriptions/{subscription_id}/webpush"): "D S D D D D D D",
    ("PUT", "/api/v1/webpush/me"):                                "D D A A A A A A",
    ("GET", "/api/v1/webpush/me"):                                "D D A A A A A A",
    ("DELETE", "/api/v1/webpush/me"):                             "D D A A A A A A",
    ("POST", "/api/v1/webhooks"):                                 "D D A D D D D A",
    ("GET", "/api/v1/webhooks"):                                  "D D A D D D D A",
    ("DELETE", "/api/v1/webhooks/{webhook_id}"):                  "D D A D D D D S",
    ("GET", "/api/v1/webhooks/{webhook_id}/deliveries"):          "D D A D D D D S",
    # Pages and their configuration: public static files.
    ("GET", "/"):                                                 "A A A A A A A A",
    ("GET", "/console"):                                          "A A A A A A A A",
    ("GET", "/console/shelters"):                                 "A A A A A A A A",
    ("GET", "/shelter"):                                          "A A A A A A A A",
    ("GET", "/responder"):                                        "A A A A A A A A",
    ("GET", "/volunteer"):                                        "A A A A A A A A",
    ("GET", "/sw.js"):                                            "A A A A A A A A",
    ("GET", "/api/v1/web/config"):                                "A A A A A A A A",
    ("GET", "/api/v1/municipalities/{code}"):                     "A A A A A A A A",
    ("GET", "/api/v1/municipalities/{code}/districts"):           "A A A A A A A A",
    ("POST", "/api/v1/municipalities/{code}/districts"):          "D D A S D D D D",
}
# fmt: on

TABLE: dict[tuple[str, str], dict[str, str]] = {
    route: dict(zip(PRINCIPALS, (WORDS[c] for c in row.split()), strict=True))
    for route, row in TABLE_ROWS.items()
}

TRUSTED_SENDER = "trusted@example.org"
CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
CAP_XML = f"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="{CAP_NS}">
  <identifier>authz-{{n}}</identifier>
  <sender>test@example.org</sender>
  <sent>2026-01-01T00:00:00+09:00</sent>
  <status>Exercise</status>
  <msgType>Alert</msgType>
  <scope>Public</scope>
  <info>
    <language>ja</language>
    <category>Met</category>
    <event>洪水</event>
    <urgency>Immediate</urgency>
    <severity>Severe</severity>
    <certainty>Observed</certainty>
    <expires>2099-01-01T00:00:00+09:00</expires>
    <headline>訓練</headline>
    <area><areaDesc>A</areaDesc><polygon>35.0,139.0 35.05,139.0 35.05,139.05 35.0,139.0</polygon>
    </area>
  </info>
</alert>
"""
PUSH = {
    "endpoint": "https://push.example.org/send/abc",
    "keys": {
        "p256dh": "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-"
        "Ts1XbjhazAkj7I99e8QcYP7DkM",
        "auth": "tBHItJI5svbpez7KI4CCXg",
    },
}
RESPONDER_PROFILE = {"kind": "fire_corps", "lon": 139.02, "lat": 35.02, "availability": "available"}
DISTRICTS = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"name": "West"},
            "geometry": polygon(139.0, 35.0, 139.05, 35.1),
        }
    ],
}


def seed(database: Database, settings: Settings) -> None:
    """The shared users, plus people who act for city A but not for the objects tested."""
    seed_basics(database, settings)
    with database.session() as session:
        create_user(session, settings, "shelter-manager-2", PASSWORD, "shelter_manager", [CITY_A])
        create_user(session, settings, "shelter-manager-b", PASSWORD, "shelter_manager", [CITY_B])
        create_user(session, settings, "responder-2", PASSWORD, "responder", [CITY_A])
        create_user(session, settings, "responder-b", PASSWORD, "responder", [CITY_B])
        create_user(session, settings, "volunteer-2", PASSWORD, "volunteer", [CITY_A])
        create_user(session, settings, "media-2", PASSWORD, "media", [CITY_A])


@dataclass
class Call:
    """One request: where, what, and (for the resident column) whose subscription token."""

    path: str
    json: Any = None
    content: bytes | None = None
    params: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    resident_token: str | None = None
    data: dict[str, str] | None = None


class World:
    """The live server and real city-A objects, with factories for fresh ones."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.http = server.client()
        self.counter = 0
        # Run after each matrix cell: gives the volunteer's task slots back.
        self.cleanups: list[Callable[[], None]] = []
        self.resident = self.subscribe()
        self.shelter_id = self._make_shelter()
        self.post(
            "officer-a",
            f"/api/v1/shelters/{self.shelter_id}/managers",
            {"username": "shelter-manager"},
            204,
        )
        self.put("responder", "/api/v1/responders/me", RESPONDER_PROFILE)
        self.put(
            "responder-2",
            "/api/v1/responders/me",
            {"kind": "fire_corps", "lon": 139.5, "lat": 35.5},
            200,
        )
        for volunteer in ("volunteer", "volunteer-2"):
            self.put(
                volunteer,
                "/api/v1/aid/volunteers/me",
                {"lon": 139.02, "lat": 35.02, "radius_m": 20_000, "max_active": 10},
                200,
            )
        self.incident_id = self.incident()
        self.webhook_id = self.webhook()

    # -- plumbing -------------------------------------------------------------------------------

    def headers(self, username: str) -> dict[str, str]:
        return self.server.auth(username)

    def post(self, user: str, path: str, body: Any = None, expect: int = 201) -> Any:
        response = self.http.post(path, json=body, headers=self.headers(user))
        assert response.status_code == expect, (path, response.text)
        return response.json() if response.content else None

    def put(self, user: str, path: str, body: Any, expect: int = 200) -> Any:
        response = self.http.put(path, json=body, headers=self.headers(user))
        assert response.status_code == expect, (path, response.text)
        return response.json()

    def subscribe(self) -> tuple[str, str]:
        """A fresh resident in city A: (subscription id, token)."""
        resident = self.server.subscribe([{"lon": 139.01, "lat": 35.01}])
        return resident.id, resident.token

    def _make_shelter(self) -> str:
        record = ShelterRecord(
            source_id="authz-1",
            name="Authz Shelter",
            lon=139.01,
            lat=35.01,
            kind="shelter",
            hazards=["flood"],
            capacity=100,
            municipality_code=CITY_A,
        )
        with self.server.runtime.db.session() as session:
            report = shelter_service.upsert_shelters(session, [record], "test")
            assert not report.errors, report.errors
            shelter_id = session.scalar(select(Shelter.id).where(Shelter.source_id == "authz-1"))
        assert shelter_id is not None
        return str(shelter_id)

    # -- factories of fresh city-A objects ------------------------------------------------------

    def draft(self, status: str = "Exercise") -> str:
        return str(self.post("officer-a", "/api/v1/alerts", alert_body(status=status))["id"])

    def issued(self) -> str:
        alert_id = self.draft()
        self.post("officer-a", f"/api/v1/alerts/{alert_id}/issue", None, 200)
        return alert_id

    def pending_approval(self, asked_by: str) -> str:
        alert_id = self.draft("Actual")
        self.post(asked_by, f"/api/v1/alerts/{alert_id}/approval")
        return alert_id

    def incident(self) -> str:
        body = {
            "kind": "fire",
            "description": "authz",
            "lon": 139.02,
            "lat": 35.02,
            "municipality_code": CITY_A,
        }
        return str(self.post("officer-a", "/api/v1/incidents", body)["id"])

    def dispatch(self, accepted: bool = False) -> str:
        # An accepted slot makes the responder busy: free them, so this dispatch offers to them.
        self.put("responder", "/api/v1/responders/me", RESPONDER_PROFILE)
        created = self.post(
            "officer-a",
            f"/api/v1/incidents/{self.incident_id}/dispatches",
            {"needed": 2, "radius_m": 10_000},
        )
        assert "responder" in [o["username"] for o in created["offered"]], created
        if accepted:
            self.post(
                "responder",
                f"/api/v1/dispatches/{created['id']}/responses",
                {"accept": True, "eta_min": 5},
                200,
            )
        return str(created["id"])

    def aid_request(self, claimed: bool = False) -> tuple[str, str]:
        """A fresh open request asked by a fresh resident: (request id, the resident's token)."""
        _, token = self.subscribe()
        response = self.http.post(
            "/api/v1/aid/requests",
            json={"kind": "shopping", "lon": 139.02, "lat": 35.02, "contact": "090-0000-0000"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 201, response.text
        request_id = str(response.json()["id"])
        if claimed:
            self.post("volunteer", f"/api/v1/aid/requests/{request_id}/claim", None, 200)
        return request_id, token

    def webhook(self, owner: str = "media") -> str:
        # City B's alerts only: nothing is sent to this address while the test runs.
        body = {"url": "http://127.0.0.1:9/hook", "municipality_codes": [CITY_B]}
        return str(self.post(owner, "/api/v1/webhooks", body)["id"])

    def etag(self) -> str:
        return self.http.get(f"/api/v1/shelters/{self.shelter_id}").headers["ETag"]

    def next(self) -> int:
        self.counter += 1
        return self.counter


def resident_call(world: World, path: str, body: Any = None) -> Call:
    """A subscription route: a fresh subscription, whose token the resident column sends."""
    sub_id, token = world.subscribe()
    return Call(path.format(subscription_id=sub_id), json=body, resident_token=token)


def pushed_call(world: World) -> Call:
    """A fresh subscription with a push subscription registered (else GET is a true 404)."""
    call = resident_call(world, "/api/v1/subscriptions/{subscription_id}/webpush")
    response = world.http.put(
        call.path, json=PUSH, headers={"Authorization": f"Bearer {call.resident_token}"}
    )
    assert response.status_code == 200, response.text
    return call


def aid_call(world: World, verb: str, claimed: bool = False) -> Call:
    request_id, token = world.aid_request(claimed)

    def withdraw() -> None:
        # The requester cancels (whatever state it reached): a claim's task slot is freed.
        world.http.post(
            f"/api/v1/aid/requests/{request_id}/cancel",
            headers={"Authorization": f"Bearer {token}"},
        )

    world.cleanups.append(withdraw)
    suffix = f"/{verb}" if verb else ""
    return Call(f"/api/v1/aid/requests/{request_id}{suffix}", resident_token=token)


SUBSCRIPTION_BODY = {"places": [{"lon": 139.01, "lat": 35.01}], "languages": ["ja"]}
Builder = Callable[[World], Call]
# How to call each route: real objects (fresh where the call changes them), valid bodies.
CALLS: dict[tuple[str, str], Builder] = {
    ("POST", "/api/v1/auth/token"): lambda w: Call(
        "/api/v1/auth/token", data={"username": "officer-a", "password": PASSWORD}
    ),
    ("GET", "/api/v1/auth/me"): lambda w: Call("/api/v1/auth/me"),
    ("GET", "/healthz"): lambda w: Call("/healthz"),
    ("GET", "/metrics"): lambda w: Call("/metrics"),
    ("GET", "/readyz"): lambda w: Call("/readyz"),
    ("GET", "/api/v1/audit"): lambda w: Call("/api/v1/audit"),
    ("POST", "/api/v1/alerts"): lambda w: Call("/api/v1/alerts", json=alert_body()),
    ("POST", "/api/v1/alerts/preview"): lambda w: Call(
        "/api/v1/alerts/preview", json={"area": alert_body()["area"]}
    ),
    ("POST", "/api/v1/alerts/{alert_id}/issue"): lambda w: Call(
        f"/api/v1/alerts/{w.draft()}/issue"
    ),
    ("POST", "/api/v1/alerts/{alert_id}/update"): lambda w: Call(
        f"/api/v1/alerts/{w.issued()}/update", json={"evacuation_level": 5}
    ),
    ("POST", "/api/v1/alerts/{alert_id}/cancel"): lambda w: Call(
        f"/api/v1/alerts/{w.issued()}/cancel", json={"reason": "test"}
    ),
    ("GET", "/api/v1/alerts"): lambda w: Call("/api/v1/alerts"),
    ("GET", "/api/v1/alerts/{alert_id}"): lambda w: Call(f"/api/v1/alerts/{w.draft()}"),
    ("GET", "/api/v1/alerts/{alert_id}/cap"): lambda w: Call(f"/api/v1/alerts/{w.draft()}/cap"),
    ("POST", "/api/v1/alerts/{alert_id}/approval"): lambda w: Call(
        f"/api/v1/alerts/{w.draft('Actual')}/approval"
    ),
    ("POST", "/api/v1/alerts/{alert_id}/approval/approve"): lambda w: Call(
        f"/api/v1/alerts/{w.pending_approval('officer-a2')}/approval/approve"
    ),
    ("POST", "/api/v1/alerts/{alert_id}/approval/reject"): lambda w: Call(
        f"/api/v1/alerts/{w.pending_approval('officer-a2')}/approval/reject",
        json={"reason": "wrong area"},
    ),
    ("DELETE", "/api/v1/alerts/{alert_id}/approval"): lambda w: Call(
        f"/api/v1/alerts/{w.pending_approval('officer-a')}/approval"
    ),
    ("GET", "/api/v1/approvals"): lambda w: Call("/api/v1/approvals"),
    ("GET", "/api/v1/alerts/{alert_id}/deliveries"): lambda w: Call(
        f"/api/v1/alerts/{w.issued()}/deliveries"
    ),
    ("POST", "/api/v1/receipts"): lambda w: Call("/api/v1/receipts", json={"receipt": "bogus"}),
    ("POST", "/api/v1/subscriptions"): lambda w: Call(
        "/api/v1/subscriptions", json=SUBSCRIPTION_BODY
    ),
    ("PUT", "/api/v1/subscriptions/{subscription_id}"): lambda w: resident_call(
        w, "/api/v1/subscriptions/{subscription_id}", SUBSCRIPTION_BODY
    ),
    ("DELETE", "/api/v1/subscriptions/{subscription_id}"): lambda w: resident_call(
        w, "/api/v1/subscriptions/{subscription_id}"
    ),
    ("WS", "/ws/alerts"): lambda w: Call("/ws/alerts"),
    ("GET", "/api/v1/shelters"): lambda w: Call(
        "/api/v1/shelters", params={"municipality": CITY_A}
    ),
    ("GET", "/api/v1/shelters/{shelter_id}"): lambda w: Call(f"/api/v1/shelters/{w.shelter_id}"),
    ("PATCH", "/api/v1/shelters/{shelter_id}"): lambda w: Call(
        f"/api/v1/shelters/{w.shelter_id}",
        json={"status": "open"},
        headers={"If-Match": w.etag()},
    ),
    ("POST", "/api/v1/shelters/{shelter_id}/occupancy"): lambda w: Call(
        f"/api/v1/shelters/{w.shelter_id}/occupancy", json={"delta": 1}
    ),
    ("GET", "/api/v1/shelters/{shelter_id}/history"): lambda w: Call(
        f"/api/v1/shelters/{w.shelter_id}/history"
    ),
    ("POST", "/api/v1/shelters/{shelter_id}/managers"): lambda w: Call(
        f"/api/v1/shelters/{w.shelter_id}/managers", json={"username": "shelter-manager"}
    ),
    ("GET", "/api/v1/shelters/me/managed"): lambda w: Call("/api/v1/shelters/me/managed"),
    ("WS", "/ws/shelters"): lambda w: Call("/ws/shelters", params={"municipality": CITY_A}),
    ("POST", "/api/v1/shelters/import"): lambda w: Call(
        "/api/v1/shelters/import",
        params={"municipality": CITY_A, "filename": "authz.csv"},
        content=(
            f"ID,名称,住所,緯度,経度,想定収容人数\nAZ-{w.next()},絆分館,絆市本町9,35.03,139.03,50\n"
        ).encode(),
        headers={"content-type": "text/csv"},
    ),
    ("GET", "/api/v1/responders/me"): lambda w: Call("/api/v1/responders/me"),
    ("PUT", "/api/v1/responders/me"): lambda w: Call(
        "/api/v1/responders/me", json={"kind": "fire_corps", "lon": 139.02, "lat": 35.02}
    ),
    ("GET", "/api/v1/responders/me/offers"): lambda w: Call("/api/v1/responders/me/offers"),
    ("GET", "/api/v1/responders"): lambda w: Call(
        "/api/v1/responders", params={"municipality": CITY_A}
    ),
    ("POST", "/api/v1/incidents"): lambda w: Call(
        "/api/v1/incidents",
        json={
            "kind": "flood_watch",
            "description": "river",
            "lon": 139.03,
            "lat": 35.03,
            "municipality_code": CITY_A,
        },
    ),
    ("GET", "/api/v1/incidents/{incident_id}"): lambda w: Call(
        f"/api/v1/incidents/{w.incident_id}"
    ),
    ("POST", "/api/v1/incidents/{incident_id}/dispatches"): lambda w: Call(
        f"/api/v1/incidents/{w.incident_id}/dispatches", json={"needed": 1}
    ),
    ("POST", "/api/v1/shelters/{shelter_id}/staff"): lambda w: Call(
        f"/api/v1/shelters/{w.shelter_id}/staff", json={"needed": 1}
    ),
    ("POST", "/api/v1/dispatches/{dispatch_id}/responses"): lambda w: Call(
        f"/api/v1/dispatches/{w.dispatch()}/responses", json={"accept": True, "eta_min": 3}
    ),
    ("POST", "/api/v1/dispatches/{dispatch_id}/status"): lambda w: Call(
        f"/api/v1/dispatches/{w.dispatch(accepted=True)}/status", json={"status": "en_route"}
    ),
    ("POST", "/api/v1/dispatches/{dispatch_id}/cancel"): lambda w: Call(
        f"/api/v1/dispatches/{w.dispatch()}/cancel"
    ),
    ("WS", "/ws/responders"): lambda w: Call("/ws/responders"),
    ("POST", "/api/v1/aid/requests"): lambda w: Call(
        "/api/v1/aid/requests", json={"kind": "shopping", "lon": 139.02, "lat": 35.02}
    ),
    ("GET", "/api/v1/aid/requests/nearby"): lambda w: Call("/api/v1/aid/requests/nearby"),
    ("GET", "/api/v1/aid/requests/{request_id}"): lambda w: aid_call(w, ""),
    ("POST", "/api/v1/aid/requests/{request_id}/claim"): lambda w: aid_call(w, "claim"),
    ("POST", "/api/v1/aid/requests/{request_id}/release"): lambda w: aid_call(w, "release", True),
    ("POST", "/api/v1/aid/requests/{request_id}/start"): lambda w: aid_call(w, "start", True),
    ("POST", "/api/v1/aid/requests/{request_id}/complete"): lambda w: aid_call(w, "complete", True),
    ("POST", "/api/v1/aid/requests/{request_id}/cancel"): lambda w: aid_call(w, "cancel"),
    ("POST", "/api/v1/aid/requests/{request_id}/hide"): lambda w: aid_call(w, "hide"),
    ("PUT", "/api/v1/aid/volunteers/me"): lambda w: Call(
        "/api/v1/aid/volunteers/me",
        json={"lon": 139.02, "lat": 35.02, "radius_m": 20_000, "max_active": 10},
    ),
    ("GET", "/api/v1/aid/volunteers/me"): lambda w: Call("/api/v1/aid/volunteers/me"),
    ("POST", "/api/v1/aid/match"): lambda w: Call("/api/v1/aid/match"),
    ("WS", "/ws/aid"): lambda w: Call("/ws/aid"),
    ("GET", "/api/v1/alerts/{alert_id}/lalert"): lambda w: Call(
        f"/api/v1/alerts/{w.issued()}/lalert"
    ),
    ("POST", "/api/v1/integrations/cap"): lambda w: Call(
        "/api/v1/integrations/cap",
        content=CAP_XML.replace("{n}", str(w.next())).encode(),
        headers={"content-type": "application/cap+xml"},
    ),
    ("GET", "/feeds/cap.atom"): lambda w: Call("/feeds/cap.atom"),
    ("POST", "/api/v1/integrations/jma"): lambda w: Call(
        "/api/v1/integrations/jma",
        content=b"<Report/>",
        headers={"content-type": "application/xml"},
    ),
    ("POST", "/api/v1/integrations/lalert"): lambda w: Call(
        "/api/v1/integrations/lalert",
        content=b"<EDXLDistribution/>",
        headers={"content-type": "application/xml"},
    ),
    ("GET", "/feeds/lalert/{municipality_code}.xml"): lambda w: Call(f"/feeds/lalert/{CITY_A}.xml"),
    ("GET", "/api/v1/webpush/public-key"): lambda w: Call("/api/v1/webpush/public-key"),
    ("PUT", "/api/v1/subscriptions/{subscription_id}/webpush"): lambda w: resident_call(
        w, "/api/v1/subscriptions/{subscription_id}/webpush", PUSH
    ),
    ("GET", "/api/v1/subscriptions/{subscription_id}/webpush"): lambda w: pushed_call(w),
    ("DELETE", "/api/v1/subscriptions/{subscription_id}/webpush"): lambda w: resident_call(
        w, "/api/v1/subscriptions/{subscription_id}/webpush"
    ),
    ("PUT", "/api/v1/webpush/me"): lambda w: Call("/api/v1/webpush/me", json=PUSH),
    ("GET", "/api/v1/webpush/me"): lambda w: Call("/api/v1/webpush/me"),
    ("DELETE", "/api/v1/webpush/me"): lambda w: Call("/api/v1/webpush/me"),
    ("POST", "/api/v1/webhooks"): lambda w: Call(
        "/api/v1/webhooks",
        json={"url": f"http://127.0.0.1:9/hook-{w.next()}", "municipality_codes": [CITY_B]},
    ),
    ("GET", "/api/v1/webhooks"): lambda w: Call("/api/v1/webhooks"),
    ("DELETE", "/api/v1/webhooks/{webhook_id}"): lambda w: Call(f"/api/v1/webhooks/{w.webhook()}"),
    ("GET", "/api/v1/webhooks/{webhook_id}/deliveries"): lambda w: Call(
        f"/api/v1/webhooks/{w.webhook_id}/deliveries"
    ),
    ("GET", "/"): lambda w: Call("/"),
    ("GET", "/console"): lambda w: Call("/console"),
    ("GET", "/console/shelters"): lambda w: Call("/console/shelters"),
    ("GET", "/shelter"): lambda w: Call("/shelter"),
    ("GET", "/responder"): lambda w: Call("/responder"),
    ("GET", "/volunteer"): lambda w: Call("/volunteer"),
    ("GET", "/sw.js"): lambda w: Call("/sw.js"),
    ("GET", "/api/v1/web/config"): lambda w: Call("/api/v1/web/config"),
    ("GET", "/api/v1/municipalities/{code}"): lambda w: Call(f"/api/v1/municipalities/{CITY_A}"),
    ("GET", "/api/v1/municipalities/{code}/districts"): lambda w: Call(
        f"/api/v1/municipalities/{CITY_A}/districts"
    ),
    ("POST", "/api/v1/municipalities/{code}/districts"): lambda w: Call(
        f"/api/v1/municipalities/{CITY_A}/districts", json=DISTRICTS
    ),
}


def app_routes(server: LiveServer) -> set[tuple[str, str]]:
    """Every (method, path template) the running app serves; WebSockets as method WS."""
    found: set[tuple[str, str]] = set()
    app = server.server.config.app
    assert isinstance(app, FastAPI)
    for context in iter_route_contexts(app.routes):
        route, path = context.original_route, context.path
        if path is None or path in SKIPPED:
            continue
        if isinstance(route, APIWebSocketRoute | WebSocketRoute):
            found.add(("WS", path))
        elif isinstance(route, APIRoute | Route):
            found.update((method, path) for method in route.methods or () if method != "HEAD")
        elif not (isinstance(route, Mount) and path == "/static"):
            # Only the static files are public by design; any other mount is classified too.
            found.add(("MOUNT", path))
    return found


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One real server on SQLite (authorisation does not depend on the backend)."""
    settings = make_settings(
        tmp_path_factory.mktemp("authz"),
        two_person_rule=True,
        # A sender name anyone can write into a message: trust must not reach across cities.
        cap_trusted_senders=[TRUSTED_SENDER],
        subscription_rate_limit=0,
        login_rate_limit=0,
    )
    live = start_server(settings, seed=seed)
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture(scope="module")
def world(server: LiveServer) -> Iterator[World]:
    made = World(server)
    try:
        yield made
    finally:
        made.http.close()


def outcome_of(status: int) -> str:
    """allow or deny from an HTTP status; a 5xx or 429 is neither and fails the test."""
    if status in (401, 403, 404):
        return "deny"
    if status >= 500 or status == 429:
        return f"error {status}"
    return "allow"


def token_for(world: World, principal: str, call: Call) -> str | None:
    if principal == "anonymous":
        return None
    if principal == "resident":
        return call.resident_token or world.resident[1]
    return world.server.login(USERS[principal])


def run_http(world: World, method: str, call: Call, token: str | None) -> tuple[str, int]:
    headers = dict(call.headers)
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    response = world.http.request(
        method,
        call.path,
        params=call.params,
        json=call.json,
        content=call.content,
        data=call.data,
        headers=headers,
    )
    return outcome_of(response.status_code), response.status_code


def run_ws(world: World, call: Call, token: str | None) -> tuple[str, int]:
    params = dict(call.params)
    if token is not None:
        params["token"] = token
    query = str(httpx.QueryParams(params))
    url = f"ws://127.0.0.1:{world.server.port}{call.path}?{query}"
    try:
        with connect(url, open_timeout=5) as socket:
            json.loads(socket.recv(timeout=5))
            return "allow", 101
    except ConnectionClosed as exc:
        code = exc.rcvd.code if exc.rcvd is not None else 1006
        return ("deny" if code == 1008 else f"error {code}"), code


def test_every_route_is_in_the_table_and_every_row_is_a_route(server: LiveServer) -> None:
    routes = app_routes(server)
    assert sorted(routes - TABLE.keys()) == [], "routes missing from TABLE: classify them"
    assert sorted(TABLE.keys() - routes) == [], "TABLE names routes the app no longer has"
    assert TABLE.keys() == CALLS.keys()


def test_the_authorisation_matrix_has_no_unexpected_allow_or_deny(world: World) -> None:
    observed: dict[tuple[str, str], dict[str, tuple[str, int]]] = {}
    mismatches: list[str] = []
    for (method, template), expected_row in TABLE.items():
        row: dict[str, tuple[str, int]] = {}
        for principal in PRINCIPALS:
            # Fresh objects per principal, so one principal's change cannot hide another's.
            call = CALLS[(method, template)](world)
            token = token_for(world, principal, call)
            if method == "WS":
                result = run_ws(world, call, token)
            else:
                result = run_http(world, method, call, token)
            row[principal] = result
            while world.cleanups:
                world.cleanups.pop()()
            expected = expected_row[principal]
            wanted = "allow" if expected == "scope" else expected
            if result[0] != wanted:
                mismatches.append(
                    f"{method} {template} as {principal}: expected {expected}, "
                    f"got {result[0]} ({result[1]})"
                )
        observed[(method, template)] = row
    write_matrix(observed, mismatches)
    assert mismatches == [], "\n".join(mismatches)


def write_matrix(
    observed: dict[tuple[str, str], dict[str, tuple[str, int]]], mismatches: list[str]
) -> None:
    """The observed matrix as Markdown, beside the other test artifacts."""
    lines = [
        "# Authorisation matrix",
        "",
        f"Observed {datetime.now(UTC).isoformat(timespec='seconds')} by "
        "tests/kizuna/test_authorization.py. Each cell: expected (A allow, D deny, "
        "S allowed in scope) and the status seen; ✗ marks a cell that differs from the table.",
        "",
        "| route | " + " | ".join(PRINCIPALS) + " |",
        "|---|" + "---|" * len(PRINCIPALS),
    ]
    for (method, template), row in observed.items():
        cells = []
        for principal in PRINCIPALS:
            expected = TABLE[(method, template)][principal]
            got, status = row[principal]
            wanted = "allow" if expected == "scope" else expected
            mark = "" if got == wanted else " ✗"
            cells.append(f"{expected[0].upper()} {status}{mark}")
        lines.append(f"| `{method} {template}` | " + " | ".join(cells) + " |")
    lines += ["", f"Mismatches: {len(mismatches)}", ""]
    lines += [f"- {m}" for m in mismatches]
    ARTIFACT.parent.mkdir(exist_ok=True)
    ARTIFACT.write_text("\n".join(lines) + "\n", encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# Municipality scoping: officer-b (city B) against city A's objects, and people of city A who
# do not act for the object. The API answers 404 where the object is hidden from the caller
# (drafts of another city, others' aid requests and webhooks) and 403 where it is visible but
# not theirs to change (issued alerts, shelters, incidents, dispatches, districts).


@dataclass
class Snapshot:
    """What city A's objects look like, to show that a refused request changed nothing."""

    values: dict[str, Any]


def snapshot(world: World, ids: dict[str, str]) -> Snapshot:
    with world.server.runtime.db.session() as session:
        values: dict[str, Any] = {}
        for key in ("draft", "issued", "pending"):
            alert = session.get(Alert, ids[key])
            assert alert is not None
            values[key] = (alert.state, alert.current_version, alert.draft, alert.updated_at)
        shelter = session.get(Shelter, world.shelter_id)
        assert shelter is not None
        values["shelter"] = (shelter.status, shelter.occupancy, shelter.revision)
        values["shelters"] = session.scalar(
            select(func.count()).select_from(Shelter).where(Shelter.municipality_code == CITY_A)
        )
        values["managers"] = sorted(
            session.scalars(
                select(ShelterManager.user_id).where(ShelterManager.shelter_id == world.shelter_id)
            )
        )
        values["alerts"] = session.scalar(select(func.count()).select_from(Alert))
        values["dispatches"] = session.scalar(select(func.count()).select_from(Dispatch))
        dispatch = session.get(Dispatch, ids["dispatch"])
        assert dispatch is not None
        values["dispatch"] = (dispatch.state, dispatch.filled)
        for key in ("aid", "claimed"):
            aid = session.get(AidRequest, ids[key])
            assert aid is not None
            values[key] = (aid.state, aid.hidden, aid.volunteer_id)
        values["districts"] = session.scalar(
            select(func.count()).select_from(District).where(District.municipality_code == CITY_A)
        )
        return Snapshot(values)


def test_an_officer_of_another_city_can_neither_read_nor_change_city_a(world: World) -> None:
    ids = {
        "draft": world.draft("Actual"),
        "issued": world.issued(),
        "pending": world.pending_approval("officer-a"),
        "dispatch": world.dispatch(),
        "aid": world.aid_request()[0],
        "claimed": world.aid_request(claimed=True)[0],
    }
    before = snapshot(world, ids)
    draft, issued, pending = ids["draft"], ids["issued"], ids["pending"]
    shelter = world.shelter_id
    area_a = {"area": alert_body()["area"]}
    # (method, path, body, status): the status the API answers for this route, consistently.
    attempts: list[tuple[str, str, Any, int]] = [
        ("GET", f"/api/v1/alerts/{draft}", None, 404),
        ("GET", f"/api/v1/alerts/{draft}/cap", None, 404),
        ("GET", f"/api/v1/alerts/{draft}/deliveries", None, 404),
        ("GET", f"/api/v1/alerts/{issued}/deliveries", None, 403),
        ("POST", f"/api/v1/alerts/{draft}/issue", None, 404),
        ("POST", f"/api/v1/alerts/{issued}/update", {"evacuation_level": 5}, 403),
        ("POST", f"/api/v1/alerts/{issued}/cancel", {"reason": "x"}, 403),
        ("POST", f"/api/v1/alerts/{draft}/approval", None, 404),
        ("POST", f"/api/v1/alerts/{issued}/approval", {"changes": {"evacuation_level": 5}}, 403),
        ("POST", f"/api/v1/alerts/{pending}/approval/approve", None, 404),
        ("POST", f"/api/v1/alerts/{pending}/approval/reject", {"reason": "x"}, 404),
        ("DELETE", f"/api/v1/alerts/{pending}/approval", None, 404),
        ("POST", "/api/v1/alerts/preview", area_a, 403),
        ("POST", "/api/v1/alerts", alert_body(), 403),
        ("PATCH", f"/api/v1/shelters/{shelter}", {"status": "closed"}, 403),
        ("POST", f"/api/v1/shelters/{shelter}/occupancy", {"delta": 5}, 403),
        ("POST", f"/api/v1/shelters/{shelter}/managers", {"username": "shelter-manager-2"}, 403),
        ("POST", f"/api/v1/shelters/{shelter}/staff", {"needed": 1}, 403),
        ("GET", f"/api/v1/responders?municipality={CITY_A}", None, 403),
        (
            "POST",
            "/api/v1/incidents",
            {
                "kind": "fire",
                "description": "x",
                "lon": 139.02,
                "lat": 35.02,
                "municipality_code": CITY_A,
            },
            403,
        ),
        ("GET", f"/api/v1/incidents/{world.incident_id}", None, 403),
        ("POST", f"/api/v1/incidents/{world.incident_id}/dispatches", {"needed": 1}, 403),
        ("POST", f"/api/v1/dispatches/{ids['dispatch']}/cancel", None, 403),
        # Another city's requests are hidden from its staff, as from anyone they don't concern.
        ("GET", f"/api/v1/aid/requests/{ids['aid']}", None, 404),
        ("POST", f"/api/v1/aid/requests/{ids['aid']}/cancel", None, 404),
        ("POST", f"/api/v1/aid/requests/{ids['claimed']}/hide", None, 404),
        ("POST", f"/api/v1/municipalities/{CITY_A}/districts", DISTRICTS, 403),
    ]
    results = []
    for method, path, body, status in attempts:
        headers = dict(world.headers("officer-b"))
        if method == "PATCH":
            headers["If-Match"] = world.etag()
        response = world.http.request(method, path, json=body, headers=headers)
        if response.status_code != status:
            results.append(f"{method} {path}: {response.status_code} (want {status})")
    import_a = world.http.post(
        "/api/v1/shelters/import",
        params={"municipality": CITY_A, "filename": "b.csv"},
        content="ID,名称,住所,緯度,経度,想定収容人数\nB-1,侵入,x,35.04,139.04,10\n".encode(),
        headers={**world.headers("officer-b"), "content-type": "text/csv"},
    )
    if import_a.status_code != 403:
        results.append(f"shelter import into city A: {import_a.status_code} (want 403)")
    # Lists leave city A's drafts and approvals out.
    listed = world.http.get("/api/v1/alerts", headers=world.headers("officer-b")).json()
    if {draft, pending} & {a["id"] for a in listed}:
        results.append("GET /api/v1/alerts lists city A's drafts to officer-b")
    approvals = world.http.get("/api/v1/approvals", headers=world.headers("officer-b")).json()
    if pending in {a["alert_id"] for a in approvals}:
        results.append("GET /api/v1/approvals lists city A's approval to officer-b")
    match = world.http.post("/api/v1/aid/match", headers=world.headers("officer-b")).json()
    if ids["aid"] in {p["request_id"] for p in match["proposals"]}:
        results.append("POST /api/v1/aid/match proposes city A's request to officer-b")
    after = snapshot(world, ids)
    changed = {k for k in before.values if before.values[k] != after.values[k]}
    assert results == [], "\n".join(results)
    assert changed == set(), f"refused requests changed {changed}"


def test_people_of_city_a_who_do_not_act_for_an_object_are_refused(world: World) -> None:
    ids = {
        "draft": world.draft("Actual"),
        "issued": world.issued(),
        "pending": world.pending_approval("officer-a"),
        "dispatch": world.dispatch(accepted=True),
        "aid": world.aid_request()[0],
        "claimed": world.aid_request(claimed=True)[0],
    }
    other_webhook = world.webhook("media")
    before = snapshot(world, ids)
    shelter, claimed = world.shelter_id, ids["claimed"]
    attempts: list[tuple[str, str, str, Any, int]] = [
        # A shelter manager not assigned to the shelter.
        ("shelter-manager-2", "PATCH", f"/api/v1/shelters/{shelter}", {"status": "closed"}, 403),
        ("shelter-manager-2", "POST", f"/api/v1/shelters/{shelter}/occupancy", {"delta": 3}, 403),
        ("shelter-manager-2", "POST", f"/api/v1/shelters/{shelter}/staff", {"needed": 1}, 403),
        # A responder the dispatch was not offered to.
        (
            "responder-2",
            "POST",
            f"/api/v1/dispatches/{ids['dispatch']}/responses",
            {"accept": True},
            403,
        ),
        (
            "responder-2",
            "POST",
            f"/api/v1/dispatches/{ids['dispatch']}/status",
            {"status": "on_scene"},
            403,
        ),
        ("responder-2", "POST", f"/api/v1/dispatches/{ids['dispatch']}/cancel", None, 403),
        # A responder of city B: city A's incident board is not theirs to read.
        ("responder-b", "GET", f"/api/v1/incidents/{world.incident_id}", None, 403),
        # A volunteer who does not hold the claim: it is no longer theirs to see, nor to move.
        ("volunteer-2", "GET", f"/api/v1/aid/requests/{claimed}", None, 404),
        ("volunteer-2", "POST", f"/api/v1/aid/requests/{claimed}/release", None, 403),
        ("volunteer-2", "POST", f"/api/v1/aid/requests/{claimed}/start", None, 403),
        ("volunteer-2", "POST", f"/api/v1/aid/requests/{claimed}/complete", None, 403),
        ("volunteer-2", "POST", f"/api/v1/aid/requests/{claimed}/claim", None, 409),
        ("volunteer-2", "POST", f"/api/v1/aid/requests/{claimed}/cancel", None, 404),
        # A shelter manager of city B: staff see only their own cities' requests.
        ("shelter-manager-b", "GET", f"/api/v1/aid/requests/{ids['aid']}", None, 404),
        ("shelter-manager-b", "POST", f"/api/v1/aid/requests/{ids['aid']}/hide", None, 404),
        # Another media account: someone else's webhook does not exist for it.
        ("media-2", "GET", f"/api/v1/webhooks/{other_webhook}/deliveries", None, 404),
        ("media-2", "DELETE", f"/api/v1/webhooks/{other_webhook}", None, 404),
        # The second officer of city A may not withdraw officer-a's request, only decide it.
        ("officer-a2", "DELETE", f"/api/v1/alerts/{ids['pending']}/approval", None, 403),
        # The one who asked may not approve their own request.
        ("officer-a", "POST", f"/api/v1/alerts/{ids['pending']}/approval/approve", None, 403),
    ]
    results = []
    for user, method, path, body, status in attempts:
        headers = dict(world.headers(user))
        if method == "PATCH":
            headers["If-Match"] = world.etag()
        response = world.http.request(method, path, json=body, headers=headers)
        if response.status_code != status:
            results.append(f"{user} {method} {path}: {response.status_code} (want {status})")
    listed = world.http.get("/api/v1/webhooks", headers=world.headers("media-2")).json()
    if other_webhook in {w["id"] for w in listed}:
        results.append("media-2 lists media's webhook")
    after = snapshot(world, ids)
    changed = {k for k in before.values if before.values[k] != after.values[k]}
    assert results == [], "\n".join(results)
    assert changed == set(), f"refused requests changed {changed}"


def cap_message(identifier: str, msg_type: str, references: str = "") -> bytes:
    """A CAP message from the trusted sender for city A's west half."""
    xml = CAP_XML.replace("{n}", identifier).replace("test@example.org", TRUSTED_SENDER)
    xml = xml.replace("<status>Exercise</status>", "<status>Actual</status>")
    xml = xml.replace("<msgType>Alert</msgType>", f"<msgType>{msg_type}</msgType>")
    if references:
        xml = xml.replace(
            "<scope>Public</scope>",
            f"<scope>Public</scope>\n  <references>{references}</references>",
        )
    return xml.encode()


def test_an_officer_of_another_city_cannot_issue_or_cancel_in_city_a_by_import(
    world: World,
) -> None:
    """A trusted sender's name is written inside the message by whoever imports it: officer-b
    must not issue a city-A alert, nor cancel one, by naming it."""
    issued = world.issued()
    current = world.http.get(f"/api/v1/alerts/{issued}", headers=world.headers("officer-a"))
    version = current.json()["versions"][-1]
    reference = f"{version['sender']},{version['identifier']},{version['sent']}"
    headers = {**world.headers("officer-b"), "content-type": "application/cap+xml"}
    cancel = world.http.post(
        "/api/v1/integrations/cap",
        content=cap_message("b-cancel", "Cancel", reference),
        headers=headers,
    )
    new = world.http.post(
        "/api/v1/integrations/cap", content=cap_message("b-new", "Alert"), headers=headers
    )
    after = world.http.get(f"/api/v1/alerts/{issued}", headers=world.headers("officer-a")).json()
    outcomes = [
        m["outcome"] for r in (cancel, new) if r.status_code == 200 for m in r.json()["messages"]
    ]
    # Trust reaches no further than the importing officer's own cities: kept as a draft.
    assert (after["state"], after["current_version"]) == ("issued", version["version"]), outcomes
    assert "issued" not in outcomes and "cancelled" not in outcomes, outcomes
