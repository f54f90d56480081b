"""Dispatch calls the right responders, fills every slot exactly once, and widens by itself."""

from __future__ import annotations

import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from dispatch import events, tasks
from dispatch.models import Offer, ResponderProfile
from kizuna.auth import hash_password, issue_token
from kizuna.db import new_id, utcnow
from kizuna.models import User
from tests.support import CITY_A, CITY_B, PASSWORD, LiveServer, audit_entries, http, wait_for

# The incident: the middle of city A. 0.009° of latitude is almost exactly 1 km.
INCIDENT_LON, INCIDENT_LAT = 139.05, 35.05
KM = 0.009


@dataclass
class Responder:
    id: str
    username: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def make_responder(
    server: LiveServer,
    km_north: float,
    skills: tuple[str, ...] = ("pump_operator",),
    availability: str = "available",
    until_minutes: float | None = None,
    municipality: str = CITY_A,
    lon: float = INCIDENT_LON,
    name: str | None = None,
    password_hash: str | None = None,
    kind: str = "fire_corps",
) -> Responder:
    """A responder `km_north` of the incident, stored directly (fast), with a bearer token."""
    with server.runtime.db.session() as session:
        user = User(
            id=new_id(),
            username=name or f"r-{new_id()[:8]}",
            password_hash=password_hash or hash_password(PASSWORD, server.runtime.settings),
            role="responder",
            municipality_codes=[municipality],
        )
        session.add(user)
        session.flush()
        session.add(
            ResponderProfile(
                user_id=user.id,
                kind=kind,
                unit="第1分団" if kind == "fire_corps" else "避難所運営班",
                municipality_code=municipality,
                skills=sorted(skills),
                availability=availability,
                availability_until=(
                    utcnow() + timedelta(minutes=until_minutes) if until_minutes else None
                ),
                lon=lon,
                lat=INCIDENT_LAT + km_north * KM,
                located_at=utcnow(),
            )
        )
        token = issue_token(server.settings, user).access_token
        return Responder(user.id, user.username, token)


def make_incident(server: LiveServer, lon: float = INCIDENT_LON) -> str:
    response = http.post(
        f"{server.url}/api/v1/incidents",
        json={
            "kind": "fire",
            "description": "建物火災 (house fire)",
            "lon": lon,
            "lat": INCIDENT_LAT,
            "municipality_code": CITY_A,
        },
        headers=server.auth("officer-a"),
        timeout=30,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def dispatch_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "needed": 5,
        "skills": ["pump_operator"],
        "radius_m": 3000,
        "respond_within_s": 600,
        "escalate_after_s": 600,
    }
    body.update(overrides)
    return body


def make_dispatch(server: LiveServer, incident_id: str, **overrides: Any) -> dict[str, Any]:
    response = http.post(
        f"{server.url}/api/v1/incidents/{incident_id}/dispatches",
        json=dispatch_body(**overrides),
        headers=server.auth("officer-a"),
        timeout=30,
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def answer(
    server: LiveServer,
    responder: Responder,
    dispatch_id: str,
    accept: bool = True,
    eta_min: int = 10,
) -> httpx.Response:
    return http.post(
        f"{server.url}/api/v1/dispatches/{dispatch_id}/responses",
        json={"accept": accept, "eta_min": eta_min},
        headers=responder.headers,
        timeout=60,
    )


def board(server: LiveServer, incident_id: str) -> dict[str, Any]:
    response = http.get(
        f"{server.url}/api/v1/incidents/{incident_id}", headers=server.auth("officer-a"), timeout=30
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_fifty_concurrent_acceptances_fill_five_slots_exactly(server: LiveServer) -> None:
    shared_hash = hash_password(PASSWORD, server.runtime.settings)
    crew = [make_responder(server, 0.03 * i, password_hash=shared_hash) for i in range(50)]
    incident = make_incident(server)
    dispatch = make_dispatch(server, incident, needed=5)
    assert len(dispatch["offered"]) == 50

    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(lambda r: answer(server, r, dispatch["id"]), crew))

    assert Counter(a.status_code for a in answers) == {200: 5, 409: 45}
    assert {a.json()["error"]["code"] for a in answers if a.status_code == 409} == {
        "dispatch_filled"
    }
    assert sorted(a.json()["slot"] for a in answers if a.status_code == 200) == [1, 2, 3, 4, 5]
    shown = board(server, incident)["dispatches"][0]
    assert (shown["filled"], shown["state"], len(shown["slots"])) == (5, "filled", 5)
    assert shown["offers"]["accepted"] == 5
    assert shown["offers"]["withdrawn"] == 45
    with server.runtime.db.session() as session:
        accepted = session.scalar(
            select(func.count()).where(
                Offer.dispatch_id == dispatch["id"], Offer.state == "accepted"
            )
        )
    assert accepted == 5


def test_offers_go_to_the_nearest_qualified_available_responders_of_the_city(
    server: LiveServer,
) -> None:
    at = 139.099  # near city A's eastern edge, so a city B responder lives 1 km away
    near = make_responder(server, 0.5, lon=at)
    far = make_responder(server, 2.5, lon=at)
    lapsed_busy = make_responder(server, 1.0, availability="busy", until_minutes=-1, lon=at)
    make_responder(server, 0.2, skills=("first_aid",), lon=at)  # lacks the pump certificate
    make_responder(server, 0.3, availability="off", lon=at)
    make_responder(server, 0.4, availability="busy", until_minutes=30, lon=at)
    make_responder(server, 4.0, lon=at)  # beyond 3 km
    make_responder(server, 0.1, municipality=CITY_B, lon=139.11)  # 1 km away, but city B
    incident = make_incident(server, lon=at)

    dispatch = make_dispatch(server, incident, needed=2)

    assert [o["responder_id"] for o in dispatch["offered"]] == [near.id, lapsed_busy.id, far.id]
    distances = [o["distance_m"] for o in dispatch["offered"]]
    assert distances == sorted(distances) and 2450 < distances[-1] < 2550
    offers = http.get(
        f"{server.url}/api/v1/responders/me/offers", headers=near.headers, timeout=30
    ).json()
    assert [o["dispatch_id"] for o in offers] == [dispatch["id"]]
    assert offers[0]["incident"]["kind"] == "fire"


def test_offers_arrive_and_are_withdrawn_live_over_the_websocket(server: LiveServer) -> None:
    first, second = make_responder(server, 0.5), make_responder(server, 1.0)
    url = f"ws://127.0.0.1:{server.port}/ws/responders?token="
    with (
        connect(url + first.token, open_timeout=10) as ws1,
        connect(url + second.token, open_timeout=10) as ws2,
    ):
        for ws in (ws1, ws2):
            hello = json.loads(ws.recv(timeout=10))
            assert hello == {"type": "hello", "user_id": hello["user_id"], "offers": []}
        dispatch = make_dispatch(server, make_incident(server), needed=1)

        offer1, offer2 = json.loads(ws1.recv(timeout=10)), json.loads(ws2.recv(timeout=10))
        assert offer1["type"] == offer2["type"] == "offer"
        assert offer1["dispatch_id"] == offer2["dispatch_id"] == dispatch["id"]
        assert offer1["distance_m"] < offer2["distance_m"]

        assert answer(server, first, dispatch["id"]).status_code == 200
        withdrawn = json.loads(ws2.recv(timeout=10))
        assert withdrawn == {"type": "withdrawn", "dispatch_id": dispatch["id"], "reason": "filled"}
        late = answer(server, second, dispatch["id"])
        assert (late.status_code, late.json()["error"]["code"]) == (409, "dispatch_filled")

    with connect(url + "not-a-token", open_timeout=10) as bad, pytest.raises(ConnectionClosed):
        bad.recv(timeout=10)
    assert bad.close_code == 1008


def test_an_unfilled_dispatch_widens_by_itself_then_alerts_the_officer(
    server: LiveServer,
) -> None:
    near, far = make_responder(server, 1.0), make_responder(server, 5.0)
    alerts: list[dict[str, Any]] = []

    async def on_alert(payload: dict[str, Any]) -> None:
        alerts.append(payload)

    server.runtime.bus.subscribe(events.OFFICER_ALERT, on_alert)
    incident = make_incident(server)
    dispatch = make_dispatch(
        server, incident, needed=2, radius_m=3000, respond_within_s=30, escalate_after_s=60
    )
    assert [o["responder_id"] for o in dispatch["offered"]] == [near.id]
    # The offers' clocks started when the dispatch was made, not when its answer arrived.
    start = datetime.fromisoformat(dispatch["created_at"])

    def escalate_at(seconds: int) -> dict[str, Any]:
        return tasks.escalate(server.runtime, now=(start + timedelta(seconds=seconds)).isoformat())

    assert escalate_at(29) == {"expired": 0, "dispatches": {}}  # not due yet
    result = escalate_at(61)
    assert result == {"expired": 1, "dispatches": {dispatch["id"]: "escalated"}}
    shown = board(server, incident)["dispatches"][0]
    assert (shown["round"], shown["radius_m"], shown["state"]) == (2, 6000, "open")
    assert shown["offers"] == {
        "offered": 1,
        "accepted": 0,
        "declined": 0,
        "expired": 1,
        "withdrawn": 0,
    }
    far_offers = http.get(
        f"{server.url}/api/v1/responders/me/offers", headers=far.headers, timeout=30
    ).json()
    assert [o["dispatch_id"] for o in far_offers] == [dispatch["id"]]  # round 2 reached 5 km
    # The near responder stayed silent: their offer expired and cannot be accepted any more.
    expired = answer(server, near, dispatch["id"])
    assert (expired.status_code, expired.json()["error"]["code"]) == (409, "offer_expired")
    assert escalate_at(62)["dispatches"] == {}  # the next round is not due yet

    assert escalate_at(122)["dispatches"] == {dispatch["id"]: "escalated"}
    assert escalate_at(183)["dispatches"] == {dispatch["id"]: "escalated"}
    assert board(server, incident)["dispatches"][0]["radius_m"] == 20_000  # the cap, not 24 km
    assert escalate_at(244)["dispatches"] == {dispatch["id"]: "officer_alerted"}
    assert escalate_at(400)["dispatches"] == {}  # alerted once, then left to the officer

    shown = board(server, incident)
    assert shown["dispatches"][0]["officer_alerted"] is True
    assert shown["dispatches"][0]["next_escalation_at"] is None
    events_seen = [t["event"] for t in shown["timeline"]]
    assert events_seen.count("escalated") == 3 and events_seen[-1] == "officer_alerted"
    wait_for(lambda: len(alerts) == 1)
    assert alerts[0]["dispatch_id"] == dispatch["id"] and alerts[0]["filled"] == 0


def test_status_moves_forward_only(server: LiveServer) -> None:
    crew = make_responder(server, 0.5)
    bystander = make_responder(server, 0.7)
    incident = make_incident(server)
    dispatch = make_dispatch(server, incident, needed=1)

    def report(responder: Responder, status: str) -> httpx.Response:
        return http.post(
            f"{server.url}/api/v1/dispatches/{dispatch['id']}/status",
            json={"status": status},
            headers=responder.headers,
            timeout=30,
        )

    assert report(crew, "en_route").status_code == 409  # nothing accepted yet
    assert answer(server, crew, dispatch["id"], eta_min=7).status_code == 200
    assert report(crew, "en_route").status_code == 200
    assert report(crew, "cleared").status_code == 200  # skipping on_scene is allowed
    back = report(crew, "on_scene")
    assert (back.status_code, back.json()["error"]["code"]) == (409, "status_out_of_order")
    assert report(bystander, "on_scene").status_code == 409  # withdrawn, never accepted

    slot = board(server, incident)["dispatches"][0]["slots"][0]
    assert (slot["responder"]["user_id"], slot["eta_min"], slot["status"]) == (
        crew.id,
        7,
        "cleared",
    )
    me = http.get(f"{server.url}/api/v1/responders/me", headers=crew.headers, timeout=30)
    assert me.json()["availability"] == "available"  # cleared: free again


def test_bad_input_gets_a_4xx_and_stores_nothing(server: LiveServer) -> None:
    responder = make_responder(server, 0.5)
    outsider = make_responder(server, 0.6, skills=("first_aid",))
    incident = make_incident(server)
    url = f"{server.url}/api/v1/incidents/{incident}/dispatches"
    officer = server.auth("officer-a")
    for body, field in [
        (dispatch_body(needed=0), "needed"),
        (dispatch_body(radius_m=50), "radius_m"),
        (dispatch_body(radius_m=50_001), "radius_m"),
        (dispatch_body(skills=["pump_operator", "juggling"]), "skills[1]"),
    ]:
        refused = http.post(url, json=body, headers=officer, timeout=30)
        assert refused.status_code == 422, body
        assert refused.json()["error"]["field"] == field
    other_city = http.post(url, json=dispatch_body(), headers=server.auth("officer-b"), timeout=30)
    assert other_city.status_code == 403
    as_responder = http.post(url, json=dispatch_body(), headers=responder.headers, timeout=30)
    assert as_responder.status_code == 403
    assert board(server, incident)["dispatches"] == []

    elsewhere = http.post(
        f"{server.url}/api/v1/incidents",
        json={
            "kind": "fire",
            "description": "x",
            "lon": 139.05,
            "lat": 35.05,
            "municipality_code": CITY_A,
        },
        headers=server.auth("officer-b"),
        timeout=30,
    )
    assert elsewhere.status_code == 403
    unknown_kind = http.post(
        f"{server.url}/api/v1/incidents",
        json={
            "kind": "party",
            "description": "x",
            "lon": 139.05,
            "lat": 35.05,
            "municipality_code": CITY_A,
        },
        headers=officer,
        timeout=30,
    )
    assert unknown_kind.status_code == 422

    decliner = make_responder(server, 0.7)
    dispatch = make_dispatch(server, incident, needed=2)
    assert answer(server, outsider, dispatch["id"]).status_code == 403  # never offered
    declined = answer(server, decliner, dispatch["id"], accept=False)
    assert declined.status_code == 200 and declined.json()["state"] == "declined"
    changed_mind = answer(server, decliner, dispatch["id"])
    assert (changed_mind.status_code, changed_mind.json()["error"]["code"]) == (
        409,
        "offer_declined",
    )
    assert answer(server, responder, dispatch["id"]).status_code == 200
    twice = answer(server, responder, dispatch["id"])
    assert (twice.status_code, twice.json()["error"]["code"]) == (409, "offer_accepted")

    second = make_responder(server, 0.8)
    cancelled = make_dispatch(server, incident, needed=1)
    assert second.id in [o["responder_id"] for o in cancelled["offered"]]
    stop = http.post(
        f"{server.url}/api/v1/dispatches/{cancelled['id']}/cancel", headers=officer, timeout=30
    )
    assert stop.status_code == 200 and stop.json()["state"] == "cancelled"
    late = answer(server, second, cancelled["id"])
    assert (late.status_code, late.json()["error"]["code"]) == (409, "dispatch_cancelled")

    bad_skill = http.put(
        f"{server.url}/api/v1/responders/me",
        json={"kind": "fire_corps", "skills": ["juggling"]},
        headers=second.headers,
        timeout=30,
    )
    assert bad_skill.status_code == 422 and bad_skill.json()["error"]["field"] == "skills[0]"
    shown = board(server, incident)["dispatches"]
    assert [(d["filled"], d["state"]) for d in shown] == [(1, "open"), (0, "cancelled")]
    assert shown[0]["offers"]["declined"] == 1


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_responder_keeps_a_profile_and_hides_location_when_off_duty(server: LiveServer) -> None:
    me = server.auth("responder")
    url = f"{server.url}/api/v1/responders/me"
    profile = {
        "kind": "fire_corps",
        "unit": "第2分団第1部",
        "skills": ["boat", "first_aid"],
        "lon": 139.03,
        "lat": 35.02,
    }
    saved = http.put(url, json={**profile, "availability": "available"}, headers=me, timeout=30)
    assert saved.status_code == 200, saved.text
    assert saved.json()["municipality_code"] == CITY_A

    def roster() -> dict[str, Any]:
        listed = http.get(
            f"{server.url}/api/v1/responders",
            params={"municipality": CITY_A},
            headers=server.auth("officer-a"),
            timeout=30,
        )
        assert listed.status_code == 200, listed.text
        return next(r for r in listed.json() if r["username"] == "responder")

    assert (roster()["lon"], roster()["lat"]) == (139.03, 35.02)
    http.put(url, json={**profile, "availability": "off"}, headers=me, timeout=30)
    assert (roster()["lon"], roster()["lat"]) == (None, None)
    assert http.get(url, headers=me, timeout=30).json()["lon"] == 139.03  # still theirs to see
    assert (
        http.put(url, json=profile, headers=server.auth("volunteer"), timeout=30).status_code == 403
    )
    refused = http.get(
        f"{server.url}/api/v1/responders",
        params={"municipality": CITY_A},
        headers=server.auth("officer-b"),
        timeout=30,
    )
    assert refused.status_code == 403
    # Each change is on the record, oldest last; where the responder was stays off it.
    entries = audit_entries(server, action="responder.profile")
    assert [(e["actor"], e["detail"]["after"]["availability"]) for e in entries] == [
        ("responder", "off"),
        ("responder", "available"),
    ]
    assert entries[0]["detail"]["before"]["availability"] == "available"
    assert "before" not in entries[1]["detail"]  # the first profile
    assert "139.03" not in str(entries)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_roster_file_creates_and_updates_responders_and_reports_bad_rows(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    from kizuna.cli import app

    roster = tmp_path / "roster.csv"
    roster.write_text(
        "username,name,kind,unit,skills,municipality,phone,lon,lat\n"
        f"taro,山田太郎,fire_corps,第1分団,pump_operator;first_aid,{CITY_A},090-0000-0001,139.02,35.03\n"
        f"hanako,佐藤花子,staff,危機管理課,radio,{CITY_A},,139.04,35.04\n"
        f"jiro,鈴木次郎,fire_corps,第1分団,juggling,{CITY_A},,139.02,35.03\n"
        f"saburo,田中三郎,police,第1分団,,{CITY_A},,139.02,35.03\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("KIZUNA_DATA_DIR", str(server.settings.data_dir))
    monkeypatch.setenv("KIZUNA_SECRET_KEY", server.settings.secret_key or "")
    runner = CliRunner()
    first = runner.invoke(app, ["responders", "import", str(roster)])
    assert first.exit_code == 1, first.output
    assert "created 2, updated 0, problems 2" in first.output
    assert "line 4:" in first.output and "juggling" in first.output
    assert "line 5:" in first.output and "police" in first.output
    password = next(
        line.split("password ")[1].strip()
        for line in first.output.splitlines()
        if line.startswith("new responder taro")
    )
    assert server.login("taro", password)

    roster.write_text(
        "username,name,kind,unit,skills,municipality,phone,lon,lat\n"
        f"taro,山田太郎,fire_corps,第3分団,chainsaw,{CITY_A},,139.05,35.05\n",
        encoding="utf-8",
    )
    again = runner.invoke(app, ["responders", "import", str(roster)])
    assert again.exit_code == 0, again.output
    assert "created 0, updated 1, problems 0" in again.output
    with server.runtime.db.session() as session:
        user = session.scalar(select(User).where(User.username == "taro"))
        assert user is not None
        profile = session.get(ResponderProfile, user.id)
        assert profile is not None
        assert (profile.unit, profile.skills, profile.lat) == ("第3分団", ["chainsaw"], 35.05)


def test_an_officer_calls_staff_to_a_shelter_and_only_staff_are_offered(
    server: LiveServer,
) -> None:
    from shelters import upsert_shelters
    from shelters.records import ShelterRecord

    with server.runtime.db.session() as session:
        upsert_shelters(
            session,
            [
                ShelterRecord(
                    source_id="gym",
                    name="第一体育館",
                    lon=INCIDENT_LON,
                    lat=INCIDENT_LAT,
                    municipality_code=CITY_A,
                    kind="shelter",
                    capacity=300,
                )
            ],
            "test",
        )
    with server.client() as client:
        shelter_id = client.get("/api/v1/shelters", params={"municipality": CITY_A}).json()[0]["id"]
        staff_near = make_responder(server, 0.5, skills=(), kind="staff")
        staff_far = make_responder(server, 3.0, skills=(), kind="staff")
        make_responder(server, 0.1, skills=())  # fire corps: not asked to run a shelter
        other_city = make_responder(server, 0.2, skills=(), kind="staff", municipality=CITY_B)
        response = client.post(
            f"/api/v1/shelters/{shelter_id}/staff",
            json={"needed": 2, "description": "受付と物資の仕分け"},
            headers=server.auth("officer-a"),
        )
        assert response.status_code == 201, response.text
        call = response.json()
        assert call["responder_kind"] == "staff"
        assert [o["username"] for o in call["offered"]] == [staff_near.username, staff_far.username]
        assert other_city.username not in [o["username"] for o in call["offered"]]
        incident = board(server, call["incident_id"])
        assert incident["incident"]["kind"] == "shelter_support"
        assert "第一体育館" in incident["incident"]["description"]
        refused = client.post(
            f"/api/v1/shelters/{shelter_id}/staff",
            json={"needed": 1},
            headers=server.auth("officer-b"),
        )
        assert refused.status_code == 403
        missing = client.post(
            "/api/v1/shelters/no-such-shelter/staff",
            json={"needed": 1},
            headers=server.auth("officer-a"),
        )
        assert missing.status_code == 404
        none_needed = client.post(
            f"/api/v1/shelters/{shelter_id}/staff",
            json={"needed": 0},
            headers=server.auth("officer-a"),
        )
        assert none_needed.status_code == 422
