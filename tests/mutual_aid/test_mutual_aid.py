"""Mutual aid over a real server: atomic claims, privacy, matching, limits, timers, live events."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pyproj import Geod
from sqlalchemy import func, select, update
from websockets.sync.client import connect

from kizuna.auth import create_user
from kizuna.settings import Settings
from mutual_aid import tasks
from mutual_aid.matching import Helper, Need, Window, greedy_assignment, optimal_assignment
from mutual_aid.models import AidRequest, Volunteer
from tests.support import CITY_A, PASSWORD, LiveServer, Resident, http, start_server

GEOD = Geod(ellps="GRS80")
HOME = (139.0512, 35.0437)  # an exact house in city A
_names = itertools.count()


@pytest.fixture(scope="module")
def sqlite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One SQLite server for the tests that are not about the database backend."""
    tmp: Path = tmp_path_factory.mktemp("aid")
    live = start_server(
        Settings(
            data_dir=tmp,
            secret_key="test-secret-key-that-is-long-enough-for-hs256",
            outbox_poll_interval_s=0.5,
            delivery_sweep_interval_s=0.5,
        )
    )
    try:
        yield live
    finally:
        live.stop()


def make_volunteer(
    server: LiveServer,
    lon: float = HOME[0] + 0.01,
    lat: float = HOME[1],
    radius_m: float = 5_000,
    skills: list[str] | None = None,
    max_active: int = 1,
    **profile: Any,
) -> dict[str, str]:
    """A new volunteer user with a profile; returns their auth headers."""
    name = f"vol-{next(_names)}-{id(server) % 1000}"
    with server.runtime.db.session() as session:
        create_user(session, server.runtime.settings, name, PASSWORD, "volunteer", [CITY_A])
    headers = server.auth(name)
    body = {
        "skills": skills or [],
        "lon": lon,
        "lat": lat,
        "radius_m": radius_m,
        "max_active": max_active,
        **profile,
    }
    answer = http.put(f"{server.url}/api/v1/aid/volunteers/me", json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    return headers


def resident(server: LiveServer) -> Resident:
    return server.subscribe([{"label": "home", "lon": HOME[0], "lat": HOME[1]}])


def ask(server: LiveServer, token: str, **overrides: Any) -> httpx.Response:
    body: dict[str, Any] = {
        "kind": "medicine",
        "description": "insulin from the pharmacy by the station",
        "lon": HOME[0],
        "lat": HOME[1],
        "people": 2,
        "special_care": True,
        "skills": [],
        "needed_by": (datetime.now(UTC) + timedelta(hours=4)).isoformat(),
        "contact": "090-1234-5678",
    }
    body.update(overrides)
    return http.post(
        f"{server.url}/api/v1/aid/requests",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )


def open_request(server: LiveServer, **overrides: Any) -> tuple[Resident, dict[str, Any]]:
    who = resident(server)
    answer = ask(server, who.token, **overrides)
    assert answer.status_code == 201, answer.text
    return who, answer.json()


def post(server: LiveServer, path: str, headers: dict[str, str]) -> httpx.Response:
    return http.post(f"{server.url}/api/v1/aid{path}", headers=headers, timeout=30)


def get(server: LiveServer, path: str, headers: dict[str, str]) -> httpx.Response:
    return http.get(f"{server.url}/api/v1/aid{path}", headers=headers, timeout=30)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    return float(GEOD.inv(a[0], a[1], b[0], b[1])[2])


# ---------------------------------------------------------------------------------------------


def test_twenty_volunteers_racing_for_one_request_leave_exactly_one_claim(
    server: LiveServer,
) -> None:
    _, request = open_request(server)
    volunteers = [make_volunteer(server) for _ in range(20)]
    barrier = threading.Barrier(len(volunteers))
    answers: list[httpx.Response] = []
    lock = threading.Lock()

    def race(headers: dict[str, str]) -> None:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            barrier.wait()
            answer = client.post(f"/api/v1/aid/requests/{request['id']}/claim", headers=headers)
        with lock:
            answers.append(answer)

    threads = [threading.Thread(target=race, args=(h,)) for h in volunteers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    codes = sorted(a.status_code for a in answers)
    assert codes == [200] + [409] * 19, [a.text for a in answers if a.status_code not in (200, 409)]
    assert {a.json()["error"]["code"] for a in answers if a.status_code == 409} == {"not_open"}
    winner = next(a.json() for a in answers if a.status_code == 200)
    assert winner["state"] == "claimed" and winner["claimed_by_me"]
    with server.runtime.db.session() as session:
        busy = session.scalars(select(Volunteer.active).where(Volunteer.active > 0)).all()
        assert busy == [1]  # the losers' task counts were rolled back


def test_volunteers_see_a_rounded_place_and_no_contact_until_they_claim(
    sqlite_server: LiveServer,
) -> None:
    server = sqlite_server
    asker, request = open_request(server)
    first = make_volunteer(server)
    second = make_volunteer(server)

    # The requester sees their own request exactly.
    own = get(server, f"/requests/{request['id']}", bearer(asker.token)).json()
    assert (own["lon"], own["lat"], own["contact"]) == (*HOME, "090-1234-5678")

    before = [get(server, f"/requests/{request['id']}", first).json() for _ in range(3)]
    assert all(b == before[0] for b in before)  # a fixed cell, not noise to average away
    shown = (before[0]["lon"], before[0]["lat"])
    assert before[0]["contact"] is None and before[0]["exact"] is False
    assert shown != HOME and metres(shown, HOME) < 400  # inside the ~500 m cell
    listed = [r for r in get(server, "/requests/nearby", first).json() if r["id"] == request["id"]]
    assert len(listed) == 1 and listed[0]["contact"] is None
    assert (listed[0]["lon"], listed[0]["lat"]) == shown

    assert post(server, f"/requests/{request['id']}/claim", first).status_code == 200
    mine = get(server, f"/requests/{request['id']}", first).json()
    assert (mine["lon"], mine["lat"], mine["contact"]) == (*HOME, "090-1234-5678")
    # Another volunteer learns nothing more: the claimed request is gone from their view.
    assert get(server, f"/requests/{request['id']}", second).status_code == 404
    assert request["id"] not in {r["id"] for r in get(server, "/requests/nearby", second).json()}
    # The city's officer may see the contact; the neighbouring city's officer sees nothing.
    assert get(server, f"/requests/{request['id']}", server.auth("officer-a")).json()["contact"]
    assert get(server, f"/requests/{request['id']}", server.auth("officer-b")).status_code == 404
    # Another resident cannot read it at all.
    assert (
        get(server, f"/requests/{request['id']}", bearer(resident(server).token)).status_code == 404
    )


def test_nearby_honours_skills_and_radius_and_puts_special_care_first(
    sqlite_server: LiveServer,
) -> None:
    server = sqlite_server
    far_east = (144.3, 43.0)  # away from the other tests' requests
    volunteer = make_volunteer(
        server, lon=far_east[0], lat=far_east[1], radius_m=3000, skills=["driving"]
    )
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    _, plain = open_request(server, lon=144.31, lat=43.0, special_care=False, needed_by=soon)
    _, special = open_request(server, lon=144.32, lat=43.0, special_care=True, needed_by=None)
    _, driving = open_request(server, lon=144.301, lat=43.0, special_care=False, skills=["driving"])
    _, nursing = open_request(server, lon=144.301, lat=43.0, skills=["nursing"])
    _, too_far = open_request(server, lon=144.4, lat=43.0)
    ids = [r["id"] for r in get(server, "/requests/nearby", volunteer).json()]
    assert ids == [special["id"], plain["id"], driving["id"]]
    assert nursing["id"] not in ids and too_far["id"] not in ids


def test_the_optimal_matcher_serves_more_than_greedy_where_greedy_goes_wrong() -> None:
    now = datetime.now(UTC)
    # Greedy gives the special-care request its nearest helper (v1), the only driver, and the
    # transport request is left over; the optimum sends v2 to the first and v1 to the second.
    needs = [
        Need("care", 139.0, 35.0, frozenset(), special_care=True),
        Need("ride", 139.01, 35.0, frozenset({"driving"})),
        Need("far", 139.5, 35.5, frozenset()),  # nobody's radius reaches it
        Need("nurse", 139.0, 35.001, frozenset({"nursing"})),  # nobody can nurse
    ]
    helpers = [
        Helper("v1", 139.001, 35.0, 5000, frozenset({"driving"}), free=1),
        Helper("v2", 139.0, 35.02, 5000, frozenset(), free=1),
        Helper("busy", 139.0, 35.0, 5000, frozenset({"nursing"}), free=0),
    ]
    greedy = {(p.request_id, p.volunteer_id) for p in greedy_assignment(needs, helpers, now)}
    optimal = {(p.request_id, p.volunteer_id) for p in optimal_assignment(needs, helpers, now)}
    assert greedy == {("care", "v1")}
    assert optimal == {("care", "v2"), ("ride", "v1")}


def test_the_matcher_fills_capacity_and_prefers_special_care_when_short() -> None:
    now = datetime.now(UTC)
    needs = [Need(f"r{i}", 139.0 + i * 0.001, 35.0, frozenset()) for i in range(4)]
    needs.append(Need("care", 139.02, 35.0, frozenset(), special_care=True))
    helpers = [Helper("v", 139.0, 35.0, 5000, frozenset(), free=3)]
    chosen = optimal_assignment(needs, helpers, now)
    assert len(chosen) == 3  # its capacity, no more
    ids = {p.request_id for p in chosen}
    assert "care" in ids and ids - {"care"} == {"r0", "r1"}  # then the nearest


def test_match_over_http_proposes_without_claiming(sqlite_server: LiveServer) -> None:
    server = sqlite_server
    spot = (141.3, 43.06)
    first = make_volunteer(server, lon=spot[0], lat=spot[1], radius_m=4000, skills=["driving"])
    make_volunteer(server, lon=spot[0], lat=spot[1] + 0.02, radius_m=4000)
    _, care = open_request(server, lon=spot[0], lat=spot[1], special_care=True)
    _, ride = open_request(server, lon=spot[0] + 0.01, lat=spot[1], skills=["driving"])
    answer = post(server, "/match", server.auth("admin"))
    assert answer.status_code == 200, answer.text
    proposals = {p["request_id"]: p for p in answer.json()["proposals"]}
    me = get(server, "/volunteers/me", first).json()["user_id"]
    assert proposals[ride["id"]]["volunteer_id"] == me
    assert proposals[care["id"]]["volunteer_id"] != me
    assert get(server, f"/requests/{ride['id']}", first).json()["state"] == "open"
    assert post(server, "/match", first).status_code == 403


def test_the_sixth_request_in_an_hour_gets_429_with_retry_after(sqlite_server: LiveServer) -> None:
    server = sqlite_server
    asker = resident(server)
    codes = [ask(server, asker.token).status_code for _ in range(5)]
    assert codes == [201] * 5
    refused = ask(server, asker.token)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert 0 < int(refused.headers["Retry-After"]) <= 3600
    with server.runtime.db.session() as session:
        stored = session.scalar(
            select(func.count())
            .select_from(AidRequest)
            .where(AidRequest.subscription_id == asker.id)
        )
    assert stored == 5
    # Another resident is not held back by the first one's limit.
    assert ask(server, resident(server).token).status_code == 201


def test_a_claim_left_unstarted_goes_back_to_the_pool(sqlite_server: LiveServer) -> None:
    server = sqlite_server
    _, stale = open_request(server)
    _, started = open_request(server)
    slow = make_volunteer(server, max_active=2)
    assert post(server, f"/requests/{stale['id']}/claim", slow).status_code == 200
    assert post(server, f"/requests/{started['id']}/claim", slow).status_code == 200
    assert post(server, f"/requests/{started['id']}/start", slow).status_code == 200
    long_ago = datetime.now(UTC) - timedelta(minutes=31)
    with server.runtime.db.session() as session:
        session.execute(
            update(AidRequest)
            .where(AidRequest.id.in_([stale["id"], started["id"]]))
            .values(claimed_at=long_ago)
        )

    tasks.release_stale(server.runtime)  # the server's own 30 s timer may have beaten us to it

    assert get(server, f"/requests/{stale['id']}", slow).json()["state"] == "open"
    assert get(server, f"/requests/{started['id']}", slow).json()["state"] == "in_progress"
    assert get(server, "/volunteers/me", slow).json()["active"] == 1
    assert post(server, f"/requests/{stale['id']}/claim", make_volunteer(server)).status_code == 200


def test_personal_data_is_erased_after_the_retention_period(sqlite_server: LiveServer) -> None:
    server = sqlite_server
    asker, old = open_request(server)
    with server.runtime.db.session() as session:
        session.execute(
            update(AidRequest)
            .where(AidRequest.id == old["id"])
            .values(created_at=datetime.now(UTC) - timedelta(days=31))
        )
    assert tasks.purge(server.runtime) >= 1
    seen = get(server, f"/requests/{old['id']}", bearer(asker.token)).json()
    assert seen["state"] == "closed"
    assert seen["contact"] is None and seen["description"] is None and seen["exact"] is False
    with server.runtime.db.session() as session:
        row = session.get(AidRequest, old["id"])
        assert row is not None and (row.lon, row.lat, row.contact) == (None, None, None)


def test_the_requester_hears_each_step_over_a_websocket(sqlite_server: LiveServer) -> None:
    server = sqlite_server
    asker, request = open_request(server)
    volunteer = make_volunteer(server)
    url = f"ws://127.0.0.1:{server.port}/ws/aid?token={asker.token}"
    with connect(url, open_timeout=10) as socket:
        assert json.loads(socket.recv(timeout=10))["type"] == "hello"
        for step in ("claim", "start", "complete"):
            assert post(server, f"/requests/{request['id']}/{step}", volunteer).status_code == 200
        heard: list[dict[str, Any]] = []
        while len(heard) < 3:
            message = json.loads(socket.recv(timeout=10))
            if message["event"] != "created":  # the relay may announce creation late
                heard.append(message)
    assert [(m["event"], m["state"]) for m in heard] == [
        ("claimed", "claimed"),
        ("started", "in_progress"),
        ("completed", "completed"),
    ]
    assert all(m["request_id"] == request["id"] and "contact" not in m for m in heard)
    with connect(f"ws://127.0.0.1:{server.port}/ws/aid?token=nonsense", open_timeout=10) as bad:
        with pytest.raises(Exception) as closed:
            bad.recv(timeout=10)
        assert "1008" in str(closed.value)


def test_staff_may_hide_an_abusive_request(sqlite_server: LiveServer) -> None:
    server = sqlite_server
    _, request = open_request(server)
    volunteer = make_volunteer(server)
    assert post(server, f"/requests/{request['id']}/hide", volunteer).status_code == 403
    assert (
        post(server, f"/requests/{request['id']}/hide", server.auth("officer-a")).status_code == 200
    )
    assert get(server, f"/requests/{request['id']}", volunteer).status_code == 404
    assert post(server, f"/requests/{request['id']}/claim", volunteer).status_code == 404


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kind": "karaoke"}, "kind"),
        ({"skills": ["juggling"]}, "skills"),
        ({"lon": 200}, "lon"),
        ({"lon": 2.35, "lat": 48.85}, "lon"),  # Paris: not a place we serve
        ({"needed_by": "2020-01-01T00:00:00+09:00"}, "needed_by"),
        ({"needed_by": "2030-01-01T00:00:00"}, "needed_by"),  # no time zone
        ({"people": 0}, "people"),
    ],
)
def test_bad_requests_are_refused_and_store_nothing(
    sqlite_server: LiveServer, change: dict[str, Any], field: str
) -> None:
    server = sqlite_server
    asker = resident(server)
    answer = ask(server, asker.token, **change)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == field
    with server.runtime.db.session() as session:
        stored = session.scalar(
            select(func.count())
            .select_from(AidRequest)
            .where(AidRequest.subscription_id == asker.id)
        )
    assert stored == 0


def test_bad_claims_get_409_or_403(sqlite_server: LiveServer) -> None:
    server = sqlite_server
    _, first = open_request(server)
    _, second = open_request(server)
    owner = make_volunteer(server, max_active=1)
    other = make_volunteer(server)
    assert post(server, f"/requests/{first['id']}/claim", owner).status_code == 200
    over = post(server, f"/requests/{second['id']}/claim", owner)
    assert (over.status_code, over.json()["error"]["code"]) == (409, "too_many_tasks")
    taken = post(server, f"/requests/{first['id']}/claim", other)
    assert (taken.status_code, taken.json()["error"]["code"]) == (409, "not_open")
    # Completing (or releasing) someone else's claim is forbidden.
    assert post(server, f"/requests/{first['id']}/complete", other).status_code == 403
    assert post(server, f"/requests/{first['id']}/release", other).status_code == 403
    assert post(server, f"/requests/{first['id']}/complete", owner).status_code == 200
    assert post(server, f"/requests/{first['id']}/claim", other).status_code == 409
    assert post(server, f"/requests/{second['id']}/complete", owner).status_code == 409
    # Residents cannot claim; volunteers need a profile and the skills asked for.
    assert (
        post(server, f"/requests/{second['id']}/claim", server.auth("officer-a")).status_code == 403
    )
    _, nursing = open_request(server, skills=["nursing"])
    assert post(server, f"/requests/{nursing['id']}/claim", other).status_code == 403


def test_volunteers_outside_their_availability_are_not_matched() -> None:
    now = datetime.now(UTC)
    past = Window(now - timedelta(hours=5), now - timedelta(hours=1))
    later = Window(now + timedelta(hours=30), now + timedelta(hours=32))
    needs = [Need("due-soon", 139.0, 35.0, frozenset(), needed_by=now + timedelta(hours=2))]
    helpers = [
        Helper("gone", 139.0, 35.0, 5000, frozenset(), windows=(past,)),
        Helper("too-late", 139.0, 35.0, 5000, frozenset(), windows=(later,)),
    ]
    assert optimal_assignment(needs, helpers, now) == []
    helpers.append(Helper("free-now", 139.0, 35.05, 9000, frozenset()))
    assert [p.volunteer_id for p in optimal_assignment(needs, helpers, now)] == ["free-now"]


def test_only_volunteers_set_a_sound_profile(sqlite_server: LiveServer) -> None:
    server = sqlite_server
    body = {"lon": HOME[0], "lat": HOME[1], "radius_m": 1000, "skills": ["driving"]}
    url = f"{server.url}/api/v1/aid/volunteers/me"
    assert http.put(url, json=body, headers=server.auth("responder")).status_code == 403
    volunteer = server.auth("volunteer")
    now = datetime.now(UTC)
    backwards = [{"start": now.isoformat(), "end": (now - timedelta(hours=1)).isoformat()}]
    cases: list[tuple[dict[str, Any], str]] = [
        ({"skills": ["juggling"]}, "skills"),
        ({"vehicle": "helicopter"}, "vehicle"),
        ({"radius_m": 0}, "radius_m"),
        ({"max_active": 0}, "max_active"),
        ({"availability": backwards}, "availability[0]"),
    ]
    for bad, field in cases:
        answer = http.put(url, json={**body, **bad}, headers=volunteer)
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["field"] == field
    assert http.get(url, headers=volunteer).status_code == 404  # nothing was stored
    assert http.put(url, json=body, headers=volunteer).json()["skills"] == ["driving"]


def test_staff_file_for_someone_hear_the_steps_and_a_cancel_frees_the_volunteer(
    sqlite_server: LiveServer,
) -> None:
    server = sqlite_server
    officer = server.login("officer-a")
    filed = ask(server, officer, kind="transport", skills=["driving"], contact="care home desk")
    assert filed.status_code == 201, filed.text
    request = filed.json()
    assert request["contact"] == "care home desk" and request["exact"] is True
    driver = make_volunteer(server, skills=["driving", "wheelchair"])
    url = f"ws://127.0.0.1:{server.port}/ws/aid?token={officer}"
    with connect(url, open_timeout=10) as socket:
        assert json.loads(socket.recv(timeout=10))["type"] == "hello"
        assert post(server, f"/requests/{request['id']}/claim", driver).status_code == 200
        assert get(server, "/volunteers/me", driver).json()["active"] == 1
        stranger = bearer(resident(server).token)
        assert post(server, f"/requests/{request['id']}/cancel", stranger).status_code == 404
        cancelled = post(server, f"/requests/{request['id']}/cancel", server.auth("officer-a"))
        assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
        events: list[str] = []
        while len(events) < 2:
            message = json.loads(socket.recv(timeout=10))
            if message["event"] != "created":
                events.append(message["event"])
    assert events == ["claimed", "cancelled"]
    assert get(server, "/volunteers/me", driver).json()["active"] == 0
    again = post(server, f"/requests/{request['id']}/cancel", server.auth("officer-a"))
    assert again.status_code == 409
    # A volunteer cannot file requests; a resident's bearer must be a real token.
    assert ask(server, server.login("volunteer")).status_code == 403
    assert ask(server, "not-a-token").status_code == 401
