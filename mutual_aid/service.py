"""Mutual aid decisions: who may ask and see what, atomic claims, matching, timeouts, purging."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shapely.geometry import Point, shape
from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from kizuna import audit, ratelimit
from kizuna.auth import user_from_token
from kizuna.db import utcnow
from kizuna.errors import Conflict, Forbidden, InvalidInput, NotAuthenticated, NotFound
from kizuna.models import Municipality, User
from kizuna.outbox import emit
from kizuna.settings import Settings
from mutual_aid import events, matching
from mutual_aid.models import (
    ACTIVE_STATES,
    KINDS,
    SKILLS,
    VEHICLES,
    AidRequest,
    Volunteer,
)
from mutual_aid.schemas import AidRequestIn, VolunteerIn

# An unstarted claim goes back to the pool after this, so a volunteer who vanished does not
# leave a frail person waiting.
CLAIM_TIMEOUT = timedelta(minutes=30)
# Personal data (contact, exact place, description) is kept this long, then erased.
RETENTION = timedelta(days=30)
# Requests one subscription token may make per fixed hour.
RATE_LIMIT = 5
RATE_WINDOW_S = 3600
GRID_M = 500.0
METRES_PER_DEGREE_LAT = 111_320.0
# Japan's extent with its remote islands, as in shelters.
JAPAN_BOUNDS = (122.9, 20.4, 154.0, 45.6)
STAFF_ROLES = ("officer", "admin", "shelter_manager")


@dataclass(frozen=True)
class Caller:
    """Who is asking: a resident by subscription, or a user with an account."""

    subscription_id: str | None = None
    user: User | None = None

    @property
    def role(self) -> str | None:
        return self.user.role if self.user is not None else None


def resolve_caller(session: Session, settings: Settings, token: str | None) -> Caller:
    """A subscription token first (residents), else a user JWT."""
    from alerts.service import subscription_by_token

    if not token:
        raise NotAuthenticated("log in or give your subscription token: Authorization: Bearer …")
    try:
        return Caller(subscription_id=subscription_by_token(session, token).id)
    except NotAuthenticated:
        pass
    return Caller(user=user_from_token(session, settings, token))


def snap_to_grid(lon: float, lat: float) -> tuple[float, float]:
    """The centre of the ~500 m cell holding the point; the same cell on every read."""
    step_lat = GRID_M / METRES_PER_DEGREE_LAT
    grid_lat = (math.floor(lat / step_lat) + 0.5) * step_lat
    step_lon = GRID_M / (METRES_PER_DEGREE_LAT * math.cos(math.radians(grid_lat)))
    grid_lon = (math.floor(lon / step_lon) + 0.5) * step_lon
    return round(grid_lon, 6), round(grid_lat, 6)


def _check_place(lon: float, lat: float) -> None:
    west, south, east, north = JAPAN_BOUNDS
    if not (west <= lon <= east):
        raise InvalidInput(f"lon {lon} is outside Japan ({west}–{east})", field="lon")
    if not (south <= lat <= north):
        raise InvalidInput(f"lat {lat} is outside Japan ({south}–{north})", field="lat")


def _check_skills(skills: list[str], field: str = "skills") -> list[str]:
    unknown = [s for s in skills if s not in SKILLS]
    if unknown:
        raise InvalidInput(f"unknown skill {unknown[0]!r}; one of {', '.join(SKILLS)}", field=field)
    return sorted(set(skills))


def municipality_at(session: Session, lon: float, lat: float) -> str | None:
    """The municipality whose boundary covers the point, if we hold it."""
    candidates = session.scalars(
        select(Municipality).where(
            Municipality.min_lon <= lon,
            Municipality.max_lon >= lon,
            Municipality.min_lat <= lat,
            Municipality.max_lat >= lat,
        )
    )
    point = Point(lon, lat)
    for municipality in candidates:
        if shape(municipality.geometry).covers(point):
            return municipality.code
    return None


# ---------------------------------------------------------------------------------------------
# Requests


def create_request(session: Session, caller: Caller, body: AidRequestIn) -> AidRequest:
    """Store a resident's request (or one staff make on someone's behalf), rate-limited."""
    if caller.subscription_id is None and caller.role not in STAFF_ROLES:
        raise Forbidden("residents ask with their subscription token; staff on their behalf")
    if body.kind not in KINDS:
        raise InvalidInput(f"unknown kind {body.kind!r}; one of {', '.join(KINDS)}", field="kind")
    skills = _check_skills(body.skills)
    _check_place(body.lon, body.lat)
    now = utcnow()
    if body.needed_by is not None and body.needed_by <= now:
        raise InvalidInput("needed_by is in the past", field="needed_by")
    if caller.subscription_id is not None:
        # Counted in this transaction: a request refused later is not counted either.
        ratelimit.hit(
            session,
            f"aid:sub:{caller.subscription_id}",
            RATE_LIMIT,
            RATE_WINDOW_S,
            now,
            message=f"at most {RATE_LIMIT} requests an hour from one subscription; try again later",
        )
    grid_lon, grid_lat = snap_to_grid(body.lon, body.lat)
    request = AidRequest(
        kind=body.kind,
        description=body.description.strip() or None,
        lon=body.lon,
        lat=body.lat,
        grid_lon=grid_lon,
        grid_lat=grid_lat,
        municipality_code=municipality_at(session, body.lon, body.lat),
        people=body.people,
        special_care=body.special_care,
        skills=skills,
        needed_by=body.needed_by,
        contact=(body.contact or "").strip() or None,
        subscription_id=caller.subscription_id,
        created_by=caller.user.id if caller.user is not None else None,
        state="open",
        created_at=now,
        updated_at=now,
    )
    session.add(request)
    session.flush()
    _announce(session, request, "created")
    # No place, contact or description: the audit log is never purged.
    audit.record(
        session,
        actor=_actor(caller),
        action="aid.request.create",
        subject=request.id,
        kind=request.kind,
        municipality_code=request.municipality_code,
    )
    return request


def _actor(caller: Caller) -> User | str:
    return caller.user if caller.user is not None else f"resident:{caller.subscription_id}"


def _announce(session: Session, request: AidRequest, event: str) -> None:
    # Only identifiers and the state travel on the bus: no place, no contact.
    emit(
        session,
        events.AID_REQUEST_CHANGED,
        {
            "request_id": request.id,
            "state": request.state,
            "event": event,
            "subscription_id": request.subscription_id,
            "created_by": request.created_by,
            "at": utcnow().isoformat(),
        },
    )


def is_requester(caller: Caller, request: AidRequest) -> bool:
    if caller.subscription_id is not None:
        return caller.subscription_id == request.subscription_id
    return caller.user is not None and caller.user.id == request.created_by


def sees_exact(caller: Caller, request: AidRequest) -> bool:
    """The exact place and contact: the requester, the current claimer, and the municipality's
    officers (and admins), who answer for the welfare of people needing special care."""
    if is_requester(caller, request):
        return True
    user = caller.user
    if user is None:
        return False
    if user.role == "admin":
        return True
    if user.role == "officer":
        return request.municipality_code in (user.municipality_codes or [])
    return request.volunteer_id == user.id and request.state in ACTIVE_STATES


def get_request(session: Session, caller: Caller, request_id: str) -> AidRequest:
    """The request if the caller may see it at all; 404 otherwise, so ids reveal nothing."""
    request = session.get(AidRequest, request_id)
    if request is None or not _may_see(caller, request):
        raise NotFound(f"no aid request {request_id}")
    return request


def _acts_for(user: User, request: AidRequest) -> bool:
    """Admins act everywhere; other staff for the municipalities they act for."""
    return user.role == "admin" or request.municipality_code in (user.municipality_codes or [])


def _may_see(caller: Caller, request: AidRequest) -> bool:
    if is_requester(caller, request):
        return True
    role = caller.role
    if role in STAFF_ROLES and caller.user is not None:
        # Another city's staff neither read, cancel nor hide this city's requests.
        return _acts_for(caller.user, request)
    if role == "volunteer" and caller.user is not None:
        return request.volunteer_id == caller.user.id or (
            not request.hidden and request.state == "open"
        )
    return False


def request_out(
    request: AidRequest, caller: Caller, distance_m: float | None = None
) -> dict[str, Any]:
    """The request as the caller may see it."""
    exact = sees_exact(caller, request) and request.lon is not None and request.lat is not None
    me = caller.user.id if caller.user is not None else None
    return {
        "id": request.id,
        "kind": request.kind,
        "description": request.description,
        "lon": request.lon if exact else request.grid_lon,
        "lat": request.lat if exact else request.grid_lat,
        "exact": exact,
        "municipality_code": request.municipality_code,
        "people": request.people,
        "special_care": request.special_care,
        "skills": request.skills,
        "needed_by": request.needed_by.isoformat() if request.needed_by else None,
        "contact": request.contact if exact else None,
        "state": request.state,
        "hidden": request.hidden,
        "claimed_by_me": me is not None and request.volunteer_id == me,
        "created_at": request.created_at.isoformat(),
        "distance_m": distance_m,
    }


# ---------------------------------------------------------------------------------------------
# Volunteers


def set_volunteer(session: Session, user: User, body: VolunteerIn) -> Volunteer:
    """Create or replace the caller's volunteer profile; the active-task count is kept."""
    skills = _check_skills(body.skills)
    if body.vehicle not in VEHICLES:
        raise InvalidInput(
            f"unknown vehicle {body.vehicle!r}; one of {', '.join(VEHICLES)}", field="vehicle"
        )
    _check_place(body.lon, body.lat)
    volunteer = session.get(Volunteer, user.id)
    if volunteer is None:
        volunteer = Volunteer(user_id=user.id, active=0)
        session.add(volunteer)
    volunteer.skills = skills
    volunteer.vehicle = body.vehicle
    volunteer.lon = body.lon
    volunteer.lat = body.lat
    volunteer.radius_m = body.radius_m
    volunteer.availability = [
        {"start": w.start.isoformat(), "end": w.end.isoformat()} for w in body.availability
    ]
    volunteer.max_active = body.max_active
    volunteer.updated_at = utcnow()
    session.flush()
    audit.record(session, actor=user, action="aid.volunteer.register", subject=user.id)
    return volunteer


def get_volunteer(session: Session, user: User) -> Volunteer:
    volunteer = session.get(Volunteer, user.id)
    if volunteer is None:
        raise NotFound("no volunteer profile yet: PUT /api/v1/aid/volunteers/me")
    return volunteer


def volunteer_out(volunteer: Volunteer) -> dict[str, Any]:
    return {
        "user_id": volunteer.user_id,
        "skills": volunteer.skills,
        "vehicle": volunteer.vehicle,
        "lon": volunteer.lon,
        "lat": volunteer.lat,
        "radius_m": volunteer.radius_m,
        "availability": volunteer.availability,
        "max_active": volunteer.max_active,
        "active": volunteer.active,
    }


def _helper(volunteer: Volunteer) -> matching.Helper:
    return matching.Helper(
        id=volunteer.user_id,
        lon=volunteer.lon,
        lat=volunteer.lat,
        radius_m=volunteer.radius_m,
        skills=frozenset(volunteer.skills),
        free=max(0, volunteer.max_active - volunteer.active),
        windows=tuple(
            matching.Window(datetime.fromisoformat(w["start"]), datetime.fromisoformat(w["end"]))
            for w in volunteer.availability
        ),
    )


def _need(request: AidRequest) -> matching.Need:
    assert request.lon is not None and request.lat is not None
    return matching.Need(
        id=request.id,
        lon=request.lon,
        lat=request.lat,
        skills=frozenset(request.skills),
        special_care=request.special_care,
        needed_by=request.needed_by,
    )


def _open_requests() -> Any:
    return select(AidRequest).where(
        AidRequest.state == "open",
        AidRequest.hidden.is_(False),
        AidRequest.lon.is_not(None),
        AidRequest.lat.is_not(None),
    )


def nearby(session: Session, user: User, limit: int) -> list[tuple[AidRequest, float]]:
    """Open requests this volunteer can serve, special care first, then soonest due, then
    nearest; with the distance to the shown (rounded) place, so it reveals no more than it."""
    volunteer = session.get(Volunteer, user.id)
    if volunteer is None:
        raise Conflict(
            "set your volunteer profile first: PUT /api/v1/aid/volunteers/me",
            code="no_volunteer_profile",
        )
    # A generous bbox prefilter in SQL; the geodesic test below is the real one.
    dlat = volunteer.radius_m / METRES_PER_DEGREE_LAT * 1.01
    dlon = dlat / max(0.01, math.cos(math.radians(volunteer.lat)))
    rows = list(
        session.scalars(
            _open_requests().where(
                AidRequest.lon.between(volunteer.lon - dlon, volunteer.lon + dlon),
                AidRequest.lat.between(volunteer.lat - dlat, volunteer.lat + dlat),
            )
        )
    )
    helper = _helper(volunteer)
    now = utcnow()
    ok, _ = matching.feasibility([_need(r) for r in rows], [helper], now)
    served = [r for r, good in zip(rows, ok[:, 0] if rows else [], strict=True) if good]
    if not served:
        return []
    _, _, shown = matching.GEOD.inv(
        [volunteer.lon] * len(served),
        [volunteer.lat] * len(served),
        [r.grid_lon for r in served],
        [r.grid_lat for r in served],
    )
    far_future = now + timedelta(days=3650)
    ranked = sorted(
        zip(served, (round(float(d), -2) for d in shown), strict=True),
        key=lambda pair: (not pair[0].special_care, pair[0].needed_by or far_future, pair[1]),
    )
    return ranked[:limit]


def propose(session: Session, user: User) -> dict[str, Any]:
    """The optimal batch assignment for the officer's municipalities (all, for an admin)."""
    query = _open_requests()
    if user.role != "admin":
        query = query.where(AidRequest.municipality_code.in_(user.municipality_codes or []))
    requests = list(session.scalars(query))
    volunteers = list(
        session.scalars(select(Volunteer).where(Volunteer.active < Volunteer.max_active))
    )
    proposals = matching.optimal_assignment(
        [_need(r) for r in requests], [_helper(v) for v in volunteers], utcnow()
    )
    return {
        "proposals": [
            {"request_id": p.request_id, "volunteer_id": p.volunteer_id, "distance_m": p.distance_m}
            for p in proposals
        ],
        "requests_open": len(requests),
        "volunteers_free": len(volunteers),
    }


# ---------------------------------------------------------------------------------------------
# Claims


def _claimable(session: Session, user: User, request_id: str) -> AidRequest:
    # Volunteers act on requests they may no longer read (claimed by someone else): they get
    # 409 or 403 from the claim rules, never its contents. A hidden request exists only for the
    # volunteer already holding it, who may still finish or give it back.
    request = session.get(AidRequest, request_id)
    if request is None or (request.hidden and request.volunteer_id != user.id):
        raise NotFound(f"no aid request {request_id}")
    return request


def _require_volunteer(session: Session, user: User) -> Volunteer:
    volunteer = session.get(Volunteer, user.id)
    if volunteer is None:
        raise Conflict(
            "set your volunteer profile first: PUT /api/v1/aid/volunteers/me",
            code="no_volunteer_profile",
        )
    return volunteer


def _changed_volunteer_count(session: Session, volunteer_id: str | None, delta: int) -> None:
    if volunteer_id is None:
        return
    session.execute(
        update(Volunteer)
        .where(Volunteer.user_id == volunteer_id, Volunteer.active + delta >= 0)
        .values(active=Volunteer.active + delta)
    )


def claim(session: Session, user: User, request_id: str) -> AidRequest:
    """Take a request: one conditional UPDATE on the volunteer's task count, one on the request's
    state. Of two volunteers racing, one wins and the other gets 409; a failure rolls both back."""
    request = _claimable(session, user, request_id)
    volunteer = _require_volunteer(session, user)
    missing = sorted(set(request.skills) - set(volunteer.skills))
    if missing:
        raise Forbidden(f"this request needs {', '.join(missing)}", field="skills")
    counted = session.execute(
        update(Volunteer)
        .where(Volunteer.user_id == user.id, Volunteer.active < Volunteer.max_active)
        .values(active=Volunteer.active + 1)
        .returning(Volunteer.active)
    ).first()
    if counted is None:
        raise Conflict(
            f"you already have {volunteer.max_active} active tasks; finish or release one",
            code="too_many_tasks",
        )
    now = utcnow()
    taken = session.execute(
        update(AidRequest)
        .where(
            AidRequest.id == request_id, AidRequest.state == "open", AidRequest.hidden.is_(False)
        )
        .values(state="claimed", volunteer_id=user.id, claimed_at=now, updated_at=now)
        .returning(AidRequest.id)
    ).first()
    if taken is None:
        raise Conflict("the request is no longer open", code="not_open")
    session.refresh(request)
    _announce(session, request, "claimed")
    audit.record(session, actor=user, action="aid.request.claim", subject=request.id)
    return request


def _transition(
    session: Session,
    user: User,
    request_id: str,
    verb: str,
    from_states: tuple[str, ...],
    values: dict[str, Any],
    stamp: str | None = None,
) -> AidRequest:
    """Move the caller's own claim on (`verb` it), in one conditional UPDATE."""
    request = _claimable(session, user, request_id)
    if request.volunteer_id is not None and request.volunteer_id != user.id:
        raise Forbidden("this request is claimed by someone else")
    now = utcnow()
    if stamp is not None:
        values = {**values, stamp: now}
    moved = session.execute(
        update(AidRequest)
        .where(
            AidRequest.id == request_id,
            AidRequest.volunteer_id == user.id,
            AidRequest.state.in_(from_states),
        )
        .values(updated_at=now, **values)
        .returning(AidRequest.id)
    ).first()
    if moved is None:
        session.refresh(request)
        raise Conflict(f"cannot {verb} a request that is {request.state}", code="wrong_state")
    if values["state"] in ("open", "completed"):
        _changed_volunteer_count(session, user.id, -1)
    session.refresh(request)
    _announce(session, request, EVENTS[verb])
    audit.record(session, actor=user, action=f"aid.request.{verb}", subject=request.id)
    return request


EVENTS = {"release": "released", "start": "started", "complete": "completed"}


def release(session: Session, user: User, request_id: str) -> AidRequest:
    """Give an unstarted claim back to the pool."""
    values = {"state": "open", "volunteer_id": None, "claimed_at": None}
    return _transition(session, user, request_id, "release", ("claimed",), values)


def start(session: Session, user: User, request_id: str) -> AidRequest:
    """The claimer is on the way; a started task is no longer released on timeout."""
    values = {"state": "in_progress"}
    return _transition(session, user, request_id, "start", ("claimed",), values, "started_at")


def complete(session: Session, user: User, request_id: str) -> AidRequest:
    """Done; the volunteer's task slot is free again."""
    values = {"state": "completed"}
    return _transition(session, user, request_id, "complete", ACTIVE_STATES, values, "finished_at")


def cancel(session: Session, caller: Caller, request_id: str) -> AidRequest:
    """The requester (or staff) withdraws the request; a claimer's slot is freed."""
    request = get_request(session, caller, request_id)
    if not is_requester(caller, request) and caller.role not in ("officer", "admin"):
        raise Forbidden("only the requester or an officer may cancel a request")
    now = utcnow()
    row = session.execute(
        update(AidRequest)
        .where(AidRequest.id == request_id, AidRequest.state.in_(("open", *ACTIVE_STATES)))
        .values(state="cancelled", finished_at=now, updated_at=now)
        .returning(AidRequest.volunteer_id)
    ).first()
    if row is None:
        raise Conflict(f"the request is already {request.state}", code="wrong_state")
    _changed_volunteer_count(session, row[0], -1)
    session.refresh(request)
    _announce(session, request, "cancelled")
    audit.record(session, actor=_actor(caller), action="aid.request.cancel", subject=request.id)
    return request


def hide(session: Session, user: User, request_id: str) -> AidRequest:
    """Staff hide an abusive request: volunteers no longer see, match or claim it."""
    request = get_request(session, Caller(user=user), request_id)
    request.hidden = True
    request.updated_at = utcnow()
    session.flush()
    audit.record(session, actor=user, action="aid.request.hide", subject=request.id)
    return request


# ---------------------------------------------------------------------------------------------
# Timers


def release_stale(
    session: Session, now: datetime | None = None, timeout: timedelta = CLAIM_TIMEOUT
) -> list[str]:
    """Claims not started within `timeout` go back to the pool; returns the requests released."""
    now = now or utcnow()
    cutoff = now - timeout
    stale = session.execute(
        select(AidRequest.id, AidRequest.volunteer_id).where(
            AidRequest.state == "claimed", AidRequest.claimed_at < cutoff
        )
    ).all()
    released = []
    for request_id, volunteer_id in stale:
        # Conditional again: the volunteer may start the task between the select and here.
        row = session.execute(
            update(AidRequest)
            .where(
                AidRequest.id == request_id,
                AidRequest.state == "claimed",
                AidRequest.volunteer_id == volunteer_id,
                AidRequest.claimed_at < cutoff,
            )
            .values(state="open", volunteer_id=None, claimed_at=None, updated_at=now)
            .returning(AidRequest.id)
        ).first()
        if row is None:
            continue
        _changed_volunteer_count(session, volunteer_id, -1)
        request = session.get(AidRequest, request_id)
        assert request is not None
        session.refresh(request)
        _announce(session, request, "released")
        released.append(request_id)
    if released:
        audit.record(
            session, actor="system:aid", action="aid.release_stale", subject=None, requests=released
        )
    return released


def purge(session: Session, now: datetime | None = None, retention: timedelta = RETENTION) -> int:
    """Close requests older than `retention` and erase their personal data; returns how many."""
    now = now or utcnow()
    old = session.execute(
        select(AidRequest.id, AidRequest.state, AidRequest.volunteer_id).where(
            AidRequest.created_at < now - retention, AidRequest.purged_at.is_(None)
        )
    ).all()
    for request_id, state, volunteer_id in old:
        row = session.execute(
            update(AidRequest)
            .where(AidRequest.id == request_id, AidRequest.purged_at.is_(None))
            .values(
                description=None,
                contact=None,
                lon=None,
                lat=None,
                purged_at=now,
                updated_at=now,
                state=case(
                    (AidRequest.state.in_(("open", *ACTIVE_STATES)), "closed"),
                    else_=AidRequest.state,
                ),
            )
            .returning(AidRequest.id)
        ).first()
        if row is not None and state in ACTIVE_STATES:
            _changed_volunteer_count(session, volunteer_id, -1)
    if old:
        audit.record(session, actor="system:aid", action="aid.purge", subject=None, purged=len(old))
    return len(old)


def counts(session: Session) -> dict[str, int]:
    """Requests by state, for the CLI."""
    return dict(
        session.execute(select(AidRequest.state, func.count()).group_by(AidRequest.state)).all()
    )
