"""Dispatch decisions: the roster, incidents, ranked offers, atomic slot filling, escalation."""

from __future__ import annotations

import csv
import io
import math
import secrets
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from pyproj import Geod
from sqlalchemy import case, func, insert, or_, select, update
from sqlalchemy.orm import Session

from dispatch import events
from dispatch.models import (
    KINDS,
    SKILLS,
    STATUSES,
    Dispatch,
    Incident,
    Offer,
    ResponderProfile,
    TimelineEntry,
)
from gis import normalize_municipality_code
from kizuna import audit
from kizuna.auth import create_user
from kizuna.db import utcnow
from kizuna.errors import Conflict, Forbidden, InvalidInput, KizunaError, NotFound
from kizuna.models import User
from kizuna.outbox import emit
from kizuna.settings import Settings

GEOD = Geod(ellps="GRS80")
METRES_PER_DEGREE_LAT = 111_320.0
# Escalation: each round multiplies the radius by this, never beyond the cap (unless the officer
# asked for more to begin with), and gives up after this many widenings, alerting the officer.
ESCALATION_FACTOR = 2.0
ESCALATION_RADIUS_CAP_M = 20_000.0
ESCALATION_ROUNDS = 3
# Nearest responders offered per round; a 20,000-strong roster must not all ring at once.
MAX_OFFERS_PER_ROUND = 500
# A responder reports these in order; skipping ahead is fine, going back is not.
STATUS_RANK = {status: rank for rank, status in enumerate(STATUSES, start=1)}
# Location is shown to others only while on duty.
ON_DUTY = ("available", "busy")


# ---------------------------------------------------------------------------------------------
# Roster


def check_skills(skills: list[str], field_name: str = "skills") -> list[str]:
    """The skills, deduplicated and sorted; an unknown one is refused (422)."""
    for index, skill in enumerate(skills):
        if skill not in SKILLS:
            raise InvalidInput(
                f"unknown skill {skill!r}; one of {', '.join(SKILLS)}",
                field=f"{field_name}[{index}]",
            )
    return sorted(set(skills))


def effective_availability(profile: ResponderProfile, now: datetime | None = None) -> str:
    """The availability now: a stated one lapses at its `until` (busy/off → available, and
    available → off)."""
    until = profile.availability_until
    if until is None or (now or utcnow()) < until:
        return profile.availability
    return "off" if profile.availability == "available" else "available"


def profile_out(
    profile: ResponderProfile, user: User, show_location: bool | None = None
) -> dict[str, Any]:
    """A roster entry as the API shows it; the location only while on duty (or to oneself)."""
    availability = effective_availability(profile)
    if show_location is None:
        show_location = availability in ON_DUTY
    return {
        "user_id": user.id,
        "username": user.username,
        "name": user.display_name,
        "kind": profile.kind,
        "unit": profile.unit,
        "municipality_code": profile.municipality_code,
        "skills": profile.skills,
        "phone": profile.phone,
        "availability": availability,
        "availability_until": (
            profile.availability_until.isoformat() if profile.availability_until else None
        ),
        "lon": profile.lon if show_location else None,
        "lat": profile.lat if show_location else None,
        "located_at": (
            profile.located_at.isoformat() if show_location and profile.located_at else None
        ),
    }


def require_responder(user: User) -> None:
    """Only fire corps members and staff on the roster (role responder) may do this."""
    if user.role != "responder":
        raise Forbidden(f"this needs the role responder; you are {user.role}")


def get_profile(session: Session, user: User) -> ResponderProfile:
    require_responder(user)
    profile = session.get(ResponderProfile, user.id)
    if profile is None:
        raise NotFound("no responder profile yet: PUT /api/v1/responders/me first")
    return profile


def set_profile(session: Session, user: User, values: dict[str, Any]) -> ResponderProfile:
    """Create or replace the caller's own roster entry."""
    require_responder(user)
    if not user.municipality_codes:
        raise InvalidInput("a responder needs a municipality", field="municipality_codes")
    if (values.get("lon") is None) != (values.get("lat") is None):
        raise InvalidInput(
            "give both lon and lat", field="lat" if values.get("lon") is not None else "lon"
        )
    until = values.get("availability_until")
    if until is not None and until.tzinfo is None:
        raise InvalidInput("give availability_until with a time zone", field="availability_until")
    skills = check_skills(values.get("skills") or [])
    profile = session.get(ResponderProfile, user.id)
    before = _profile_audit(profile) if profile is not None else None
    if profile is None:
        profile = ResponderProfile(user_id=user.id, municipality_code=user.municipality_codes[0])
        session.add(profile)
    now = utcnow()
    profile.kind = values["kind"]
    profile.unit = values.get("unit")
    profile.skills = skills
    profile.phone = values.get("phone")
    profile.availability = values.get("availability") or "available"
    profile.availability_until = until
    profile.lon, profile.lat = values.get("lon"), values.get("lat")
    profile.located_at = now if profile.lon is not None else None
    profile.updated_at = now
    session.flush()
    audit.record(
        session,
        actor=user,
        action="responder.profile",
        subject=user.id,
        before=before,
        after=_profile_audit(profile),
    )
    return profile


def _profile_audit(profile: ResponderProfile) -> dict[str, Any]:
    # Where a responder is and their phone number stay out of the permanent record.
    return {
        "kind": profile.kind,
        "unit": profile.unit,
        "skills": list(profile.skills or []),
        "availability": profile.availability,
        "availability_until": (
            profile.availability_until.isoformat() if profile.availability_until else None
        ),
        "located": profile.lon is not None,
    }


def roster(session: Session, user: User, municipality: str) -> list[dict[str, Any]]:
    """The responders of a municipality, for its officers (and admins)."""
    try:
        code = normalize_municipality_code(municipality)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="municipality") from None
    _require_officer_of(user, code)
    rows = session.execute(
        select(ResponderProfile, User)
        .join(User, User.id == ResponderProfile.user_id)
        .where(ResponderProfile.municipality_code == code)
        .order_by(ResponderProfile.unit, User.username)
    ).all()
    return [profile_out(p, u) for p, u in rows]


@dataclass
class RosterReport:
    created: int = 0
    updated: int = 0
    # Generated passwords by username, to be handed over once; they are stored only hashed.
    passwords: dict[str, str] = field(default_factory=dict)
    problems: list[tuple[int, str]] = field(default_factory=list)


ROSTER_COLUMNS = (
    "username",
    "name",
    "kind",
    "unit",
    "skills",
    "municipality",
    "phone",
    "lon",
    "lat",
)


def _roster_row(row: dict[str, str]) -> tuple[dict[str, Any], str]:
    """Check one CSV row; the profile values and the municipality code, or ValueError."""
    kind = (row.get("kind") or "").strip()
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; one of {', '.join(KINDS)}")
    skills = [s.strip() for s in (row.get("skills") or "").split(";") if s.strip()]
    unknown = [s for s in skills if s not in SKILLS]
    if unknown:
        raise ValueError(f"unknown skill {unknown[0]!r}; one of {', '.join(SKILLS)}")
    code = normalize_municipality_code((row.get("municipality") or "").strip())
    lon_text, lat_text = (row.get("lon") or "").strip(), (row.get("lat") or "").strip()
    lon = lat = None
    if lon_text or lat_text:
        try:
            lon, lat = float(lon_text), float(lat_text)
        except ValueError:
            raise ValueError(f"lon={lon_text!r}, lat={lat_text!r} are not numbers") from None
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise ValueError(f"coordinates lon={lon}, lat={lat} are off the globe")
    values = {
        "kind": kind,
        "unit": (row.get("unit") or "").strip() or None,
        "skills": sorted(set(skills)),
        "phone": (row.get("phone") or "").strip() or None,
        "lon": lon,
        "lat": lat,
        "name": (row.get("name") or "").strip() or None,
    }
    return values, code


def import_roster(
    session: Session, settings: Settings, text: str, actor: User | str | None = "system:roster"
) -> RosterReport:
    """Create responders (random passwords) or update their profiles from a roster CSV;
    `actor` is recorded in the audit log."""
    report = RosterReport()
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [
        c for c in ("username", "kind", "municipality") if c not in (reader.fieldnames or [])
    ]
    if missing:
        report.problems.append((1, f"missing columns: {', '.join(missing)}"))
        return report
    seen: set[str] = set()
    for line, row in enumerate(reader, start=2):
        username = (row.get("username") or "").strip()
        try:
            values, code = _roster_row(row)
            if username in seen:
                raise ValueError(f"username {username!r} appears twice")
        except ValueError as exc:
            report.problems.append((line, str(exc)))
            continue
        seen.add(username)
        user = session.scalar(select(User).where(User.username == username))
        password = None
        try:
            with session.begin_nested():
                if user is None:
                    password = secrets.token_urlsafe(12)
                    user = create_user(
                        session,
                        settings,
                        username,
                        password,
                        "responder",
                        [code],
                        values["name"],
                        created_by=actor,
                    )
                elif user.role != "responder":
                    raise InvalidInput(f"{username} exists with the role {user.role}")
                else:
                    user.municipality_codes = [code]
                    user.display_name = values["name"] or user.display_name
                profile = session.get(ResponderProfile, user.id)
                if profile is None:
                    profile = ResponderProfile(user_id=user.id, availability="available")
                    session.add(profile)
                profile.municipality_code = code
                for key in ("kind", "unit", "skills", "phone", "lon", "lat"):
                    setattr(profile, key, values[key])
                profile.located_at = utcnow() if values["lon"] is not None else None
                profile.updated_at = utcnow()
                session.flush()
        except KizunaError as exc:
            report.problems.append((line, exc.message))
            continue
        if password is not None:
            report.created += 1
            report.passwords[username] = password
        else:
            report.updated += 1
    audit.record(
        session,
        actor=actor,
        action="responders.import",
        subject=None,
        created=report.created,
        updated=report.updated,
        problems=len(report.problems),
    )
    return report


# ---------------------------------------------------------------------------------------------
# Incidents


def _require_officer_of(user: User, code: str) -> None:
    if user.role == "admin":
        return
    if user.role != "officer":
        raise Forbidden(f"this needs the role officer or admin; you are {user.role}")
    if code not in user.municipality_codes:
        raise Forbidden(f"you do not act for municipality {code}")


def _timeline(
    session: Session,
    incident_id: str,
    event: str,
    actor: str | None,
    dispatch_id: str | None = None,
    detail: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> None:
    session.add(
        TimelineEntry(
            incident_id=incident_id,
            dispatch_id=dispatch_id,
            at=at or utcnow(),
            actor=actor,
            event=event,
            detail=detail,
        )
    )


def create_incident(session: Session, user: User, values: dict[str, Any]) -> Incident:
    """Open an incident in a municipality the officer acts for."""
    try:
        code = normalize_municipality_code(values["municipality_code"])
    except ValueError as exc:
        raise InvalidInput(str(exc), field="municipality_code") from None
    _require_officer_of(user, code)
    incident = Incident(
        municipality_code=code,
        kind=values["kind"],
        description=values["description"],
        lon=values["lon"],
        lat=values["lat"],
        created_by=user.id,
    )
    session.add(incident)
    session.flush()
    _timeline(
        session, incident.id, "incident_created", user.username, detail={"kind": incident.kind}
    )
    audit.record(
        session,
        actor=user,
        action="incident.create",
        subject=incident.id,
        municipality_code=code,
        kind=incident.kind,
    )
    return incident


def get_incident(session: Session, incident_id: str) -> Incident:
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFound(f"no incident {incident_id}")
    return incident


def get_dispatch(session: Session, dispatch_id: str) -> Dispatch:
    dispatch = session.get(Dispatch, dispatch_id)
    if dispatch is None:
        raise NotFound(f"no dispatch {dispatch_id}")
    return dispatch


# ---------------------------------------------------------------------------------------------
# Offers


@dataclass(frozen=True)
class Candidate:
    user_id: str
    username: str
    distance_m: float


def rank_candidates(
    session: Session,
    incident: Incident,
    skills: list[str],
    radius_m: float,
    exclude: set[str],
    now: datetime,
    limit: int = MAX_OFFERS_PER_ROUND,
    responder_kind: str | None = None,
) -> list[Candidate]:
    """Available responders of the incident's municipality holding every skill, within
    `radius_m` (geodesic), nearest first; only fire corps or only staff when `responder_kind`."""
    dlat = radius_m / METRES_PER_DEGREE_LAT * 1.01
    dlon = dlat / max(math.cos(math.radians(min(abs(incident.lat) + dlat, 89.9))), 1e-6)
    rows = session.execute(
        select(ResponderProfile, User.username)
        .join(User, User.id == ResponderProfile.user_id)
        .where(
            ResponderProfile.municipality_code == incident.municipality_code,
            User.role == "responder",
            User.active.is_(True),
            ResponderProfile.lon.between(incident.lon - dlon, incident.lon + dlon),
            ResponderProfile.lat.between(incident.lat - dlat, incident.lat + dlat),
            *([ResponderProfile.kind == responder_kind] if responder_kind else []),
        )
    ).all()
    required = set(skills)
    eligible = [
        (p, name)
        for p, name in rows
        if p.user_id not in exclude
        and required.issubset(p.skills)
        and effective_availability(p, now) == "available"
    ]
    if not eligible:
        return []
    lons = np.array([p.lon for p, _ in eligible], dtype=float)
    lats = np.array([p.lat for p, _ in eligible], dtype=float)
    _, _, distances = GEOD.inv(
        np.full_like(lons, incident.lon), np.full_like(lats, incident.lat), lons, lats
    )
    order = np.argsort(distances, kind="stable")
    found = [
        Candidate(eligible[i][0].user_id, eligible[i][1], float(distances[i]))
        for i in order
        if distances[i] <= radius_m
    ]
    return found[:limit]


def _offer_message(
    dispatch: Dispatch, incident: Incident, distance_m: float, expires_at: datetime
) -> dict[str, Any]:
    return {
        "dispatch_id": dispatch.id,
        "incident": {
            "id": incident.id,
            "kind": incident.kind,
            "description": incident.description,
            "lon": incident.lon,
            "lat": incident.lat,
        },
        "skills": dispatch.skills,
        "responder_kind": dispatch.responder_kind,
        "needed": dispatch.needed,
        "distance_m": round(distance_m, 1),
        "expires_at": expires_at.isoformat(),
    }


def offer_round(
    session: Session, dispatch: Dispatch, incident: Incident, now: datetime
) -> list[Candidate]:
    """Offer the dispatch to the nearest qualified responders not yet asked; announce live."""
    asked = set(session.scalars(select(Offer.responder_id).where(Offer.dispatch_id == dispatch.id)))
    candidates = rank_candidates(
        session,
        incident,
        dispatch.skills,
        dispatch.radius_m,
        asked,
        now,
        responder_kind=dispatch.responder_kind,
    )
    if not candidates:
        return []
    expires_at = now + timedelta(seconds=dispatch.respond_within_s)
    session.execute(
        insert(Offer),
        [
            {
                "dispatch_id": dispatch.id,
                "responder_id": c.user_id,
                "round": dispatch.round,
                "distance_m": c.distance_m,
                "state": "offered",
                "offered_at": now,
                "expires_at": expires_at,
            }
            for c in candidates
        ],
    )
    emit(
        session,
        events.OFFERED,
        {
            "dispatch_id": dispatch.id,
            "incident_id": incident.id,
            "offers": [
                {
                    "responder_id": c.user_id,
                    "offer": _offer_message(dispatch, incident, c.distance_m, expires_at),
                }
                for c in candidates
            ],
        },
    )
    return candidates


def create_dispatch(
    session: Session, user: User, incident_id: str, values: dict[str, Any]
) -> tuple[Dispatch, list[Candidate]]:
    """Call for `needed` responders with `skills` within `radius_m`; offers go out at once."""
    incident = get_incident(session, incident_id)
    _require_officer_of(user, incident.municipality_code)
    skills = check_skills(values.get("skills") or [])
    now = utcnow()
    dispatch = Dispatch(
        incident_id=incident.id,
        needed=values["needed"],
        filled=0,
        skills=skills,
        responder_kind=values.get("responder_kind"),
        radius_m=float(values["radius_m"]),
        respond_within_s=values["respond_within_s"],
        escalate_after_s=values["escalate_after_s"],
        round=1,
        state="open",
        next_escalation_at=now + timedelta(seconds=values["escalate_after_s"]),
        created_by=user.id,
        created_at=now,
    )
    session.add(dispatch)
    session.flush()
    offered = offer_round(session, dispatch, incident, now)
    _timeline(
        session,
        incident.id,
        "dispatch_created",
        user.username,
        dispatch.id,
        {
            "needed": dispatch.needed,
            "skills": skills,
            "radius_m": dispatch.radius_m,
            "offered": len(offered),
        },
        at=now,
    )
    audit.record(
        session,
        actor=user,
        action="dispatch.create",
        subject=dispatch.id,
        incident_id=incident.id,
        needed=dispatch.needed,
        skills=skills,
        offered=len(offered),
    )
    return dispatch, offered


def open_offers(session: Session, user: User) -> list[dict[str, Any]]:
    """The caller's offers still waiting for an answer, newest first."""
    require_responder(user)
    rows = session.execute(
        select(Offer, Dispatch, Incident)
        .join(Dispatch, Dispatch.id == Offer.dispatch_id)
        .join(Incident, Incident.id == Dispatch.incident_id)
        .where(
            Offer.responder_id == user.id,
            Offer.state == "offered",
            Offer.expires_at > utcnow(),
            Dispatch.state == "open",
        )
        .order_by(Offer.offered_at.desc())
    ).all()
    return [
        {**_offer_message(d, i, o.distance_m, o.expires_at), "filled": d.filled} for o, d, i in rows
    ]


# ---------------------------------------------------------------------------------------------
# Responses and status


def _withdraw_open_offers(session: Session, dispatch: Dispatch, reason: str) -> int:
    """Withdraw every unanswered offer of a dispatch and tell those responders live."""
    withdrawn = list(
        session.scalars(
            update(Offer)
            .where(Offer.dispatch_id == dispatch.id, Offer.state == "offered")
            .values(state="withdrawn")
            .returning(Offer.responder_id)
        )
    )
    if withdrawn:
        emit(
            session,
            events.WITHDRAWN,
            {"dispatch_id": dispatch.id, "responder_ids": withdrawn, "reason": reason},
        )
    return len(withdrawn)


def _announce(session: Session, dispatch_id: str) -> None:
    row = session.execute(
        select(Dispatch.incident_id, Dispatch.filled, Dispatch.needed, Dispatch.state).where(
            Dispatch.id == dispatch_id
        )
    ).one()
    emit(
        session,
        events.UPDATED,
        {
            "dispatch_id": dispatch_id,
            "incident_id": row.incident_id,
            "filled": row.filled,
            "needed": row.needed,
            "state": row.state,
        },
    )


def respond(
    session: Session, user: User, dispatch_id: str, accept: bool, eta_min: int | None
) -> dict[str, Any]:
    """Accept or decline an offer; an acceptance takes a slot or gets 409 `dispatch_filled`."""
    require_responder(user)
    # The offer before the dispatch: an offer withdrawn because the dispatch filled was changed
    # in the same transaction as the dispatch, so the dispatch read next shows why.
    offer = session.scalar(
        select(Offer).where(Offer.dispatch_id == dispatch_id, Offer.responder_id == user.id)
    )
    dispatch = get_dispatch(session, dispatch_id)
    if offer is None:
        raise Forbidden("you were not offered a slot on this dispatch")
    now = utcnow()
    # The most useful reason first: a late acceptance hears "filled", not "withdrawn".
    if offer.state == "accepted":
        raise Conflict("you already accepted this offer", code="offer_accepted")
    if dispatch.state == "cancelled":
        raise Conflict("the dispatch was cancelled", code="dispatch_cancelled")
    if dispatch.state == "filled":
        raise Conflict("every slot is already filled", code="dispatch_filled")
    if offer.state != "offered":
        raise Conflict(f"this offer is already {offer.state}", code=f"offer_{offer.state}")
    if offer.expires_at <= now:
        raise Conflict("the offer expired", code="offer_expired")
    if not accept:
        declined = session.execute(
            update(Offer)
            .where(Offer.id == offer.id, Offer.state == "offered")
            .values(state="declined", responded_at=now)
            .returning(Offer.id)
        ).first()
        if declined is None:
            raise Conflict("this offer was answered meanwhile", code="offer_answered")
        _timeline(session, dispatch.incident_id, "declined", user.username, dispatch.id, at=now)
        audit.record(session, actor=user, action="dispatch.decline", subject=dispatch.id)
        _announce(session, dispatch.id)
        return {"dispatch_id": dispatch.id, "state": "declined"}
    # The slot first: one statement checks there is room and takes it, so concurrent
    # acceptances can never take more than `needed` (the database serialises the row).
    slot = session.execute(
        update(Dispatch)
        .where(
            Dispatch.id == dispatch_id, Dispatch.filled < Dispatch.needed, Dispatch.state == "open"
        )
        .values(
            filled=Dispatch.filled + 1,
            state=case((Dispatch.filled + 1 >= Dispatch.needed, "filled"), else_="open"),
        )
        .returning(Dispatch.filled, Dispatch.needed, Dispatch.state)
    ).first()
    if slot is None:
        session.expire(dispatch)
        if get_dispatch(session, dispatch_id).state == "cancelled":
            raise Conflict("the dispatch was cancelled", code="dispatch_cancelled")
        raise Conflict("every slot is already filled", code="dispatch_filled")
    # Then the offer, once: a second acceptance (or a withdrawal/expiry that got there first)
    # finds no row, and raising rolls back the slot taken above.
    moved = session.execute(
        update(Offer)
        .where(Offer.id == offer.id, Offer.state == "offered", Offer.expires_at > now)
        .values(state="accepted", responded_at=now, eta_min=eta_min)
        .returning(Offer.id)
    ).first()
    if moved is None:
        raise Conflict("this offer was answered, withdrawn or expired meanwhile", code="offer_gone")
    session.execute(
        update(ResponderProfile)
        .where(ResponderProfile.user_id == user.id)
        .values(availability="busy", availability_until=None, updated_at=now)
    )
    _timeline(
        session,
        dispatch.incident_id,
        "accepted",
        user.username,
        dispatch.id,
        {"eta_min": eta_min, "slot": slot.filled},
        at=now,
    )
    if slot.state == "filled":
        withdrawn = _withdraw_open_offers(session, dispatch, "filled")
        _timeline(
            session,
            dispatch.incident_id,
            "filled",
            None,
            dispatch.id,
            {"withdrawn": withdrawn},
            at=now,
        )
    audit.record(
        session,
        actor=user,
        action="dispatch.accept",
        subject=dispatch.id,
        slot=slot.filled,
        eta_min=eta_min,
    )
    _announce(session, dispatch.id)
    return {
        "dispatch_id": dispatch.id,
        "state": "accepted",
        "slot": slot.filled,
        "needed": slot.needed,
        "eta_min": eta_min,
    }


def report_status(session: Session, user: User, dispatch_id: str, status: str) -> dict[str, Any]:
    """Move an accepted responder forward: en_route → on_scene → cleared (skipping is fine)."""
    require_responder(user)
    dispatch = get_dispatch(session, dispatch_id)
    offer = session.scalar(
        select(Offer).where(Offer.dispatch_id == dispatch_id, Offer.responder_id == user.id)
    )
    if offer is None:
        raise Forbidden("you were not offered a slot on this dispatch")
    if offer.state != "accepted":
        raise Conflict(
            f"only an accepted offer has a status; yours is {offer.state}", code="not_accepted"
        )
    earlier = [s for s, rank in STATUS_RANK.items() if rank < STATUS_RANK[status]]
    previous_status = offer.status
    now = utcnow()
    moved = session.execute(
        update(Offer)
        .where(
            Offer.id == offer.id,
            or_(Offer.status.is_(None), Offer.status.in_(earlier)),
        )
        .values(status=status, status_at=now)
        .returning(Offer.id)
    ).first()
    if moved is None:
        session.expire(offer)
        current = session.get(Offer, offer.id)
        raise Conflict(
            f"cannot go to {status} after {current.status if current else '?'}",
            code="status_out_of_order",
            field="status",
        )
    if status == "cleared":
        session.execute(
            update(ResponderProfile)
            .where(ResponderProfile.user_id == user.id)
            .values(availability="available", availability_until=None, updated_at=now)
        )
    _timeline(session, dispatch.incident_id, status, user.username, dispatch.id, at=now)
    audit.record(
        session,
        actor=user,
        action="dispatch.status",
        subject=dispatch.id,
        before={"status": previous_status},
        after={"status": status},
    )
    return {"dispatch_id": dispatch.id, "status": status, "at": now.isoformat()}


def cancel_dispatch(session: Session, user: User, dispatch_id: str) -> Dispatch:
    """Stop a dispatch: no more acceptances; unanswered offers are withdrawn live."""
    dispatch = get_dispatch(session, dispatch_id)
    incident = get_incident(session, dispatch.incident_id)
    _require_officer_of(user, incident.municipality_code)
    done = session.execute(
        update(Dispatch)
        .where(Dispatch.id == dispatch_id, Dispatch.state != "cancelled")
        .values(state="cancelled", next_escalation_at=None)
        .returning(Dispatch.id)
    ).first()
    if done is None:
        raise Conflict("the dispatch is already cancelled", code="dispatch_cancelled")
    session.refresh(dispatch)
    _withdraw_open_offers(session, dispatch, "cancelled")
    _timeline(session, incident.id, "cancelled", user.username, dispatch.id)
    audit.record(session, actor=user, action="dispatch.cancel", subject=dispatch.id)
    _announce(session, dispatch.id)
    return dispatch


# ---------------------------------------------------------------------------------------------
# Expiry and escalation (run by the `dispatch.escalate` timer)


def expire_offers(session: Session, now: datetime) -> int:
    """Offers nobody answered in time become `expired`; their holders are told live."""
    rows = session.execute(
        update(Offer)
        .where(Offer.state == "offered", Offer.expires_at <= now)
        .values(state="expired")
        .returning(Offer.dispatch_id, Offer.responder_id)
    ).all()
    by_dispatch: dict[str, list[str]] = defaultdict(list)
    for dispatch_id, responder_id in rows:
        by_dispatch[dispatch_id].append(responder_id)
    for dispatch_id, responder_ids in by_dispatch.items():
        emit(
            session,
            events.WITHDRAWN,
            {"dispatch_id": dispatch_id, "responder_ids": responder_ids, "reason": "expired"},
        )
        incident_id = session.scalar(select(Dispatch.incident_id).where(Dispatch.id == dispatch_id))
        if incident_id is not None:
            _timeline(
                session,
                incident_id,
                "expired",
                None,
                dispatch_id,
                {"offers": len(responder_ids)},
                at=now,
            )
    return len(rows)


def due_dispatches(session: Session, now: datetime) -> list[str]:
    """Open dispatches whose escalation time has come."""
    return list(
        session.scalars(
            select(Dispatch.id)
            .where(Dispatch.state == "open", Dispatch.next_escalation_at <= now)
            .order_by(Dispatch.next_escalation_at)
        )
    )


def escalate_dispatch(session: Session, dispatch_id: str, now: datetime) -> str:
    """Widen one unfilled dispatch and offer the next responders, or alert the officer after
    the last round. Claimed by a conditional UPDATE on `round`, so two timers cannot both act."""
    dispatch = session.get(Dispatch, dispatch_id)
    if dispatch is None or dispatch.state != "open" or dispatch.next_escalation_at is None:
        return "skipped"
    incident = get_incident(session, dispatch.incident_id)
    if dispatch.round > ESCALATION_ROUNDS:
        claimed = session.execute(
            update(Dispatch)
            .where(
                Dispatch.id == dispatch_id,
                Dispatch.round == dispatch.round,
                Dispatch.state == "open",
                Dispatch.officer_alerted.is_(False),
            )
            .values(officer_alerted=True, next_escalation_at=None)
            .returning(Dispatch.id)
        ).first()
        if claimed is None:
            return "skipped"
        session.refresh(dispatch)
        payload = {
            "dispatch_id": dispatch.id,
            "incident_id": incident.id,
            "municipality_code": incident.municipality_code,
            "needed": dispatch.needed,
            "filled": dispatch.filled,
            "radius_m": dispatch.radius_m,
            "rounds": dispatch.round,
        }
        emit(session, events.OFFICER_ALERT, payload)
        _timeline(session, incident.id, "officer_alerted", None, dispatch.id, payload, at=now)
        return "officer_alerted"
    radius = min(
        dispatch.radius_m * ESCALATION_FACTOR, max(ESCALATION_RADIUS_CAP_M, dispatch.radius_m)
    )
    claimed = session.execute(
        update(Dispatch)
        .where(
            Dispatch.id == dispatch_id, Dispatch.round == dispatch.round, Dispatch.state == "open"
        )
        .values(
            round=Dispatch.round + 1,
            radius_m=radius,
            next_escalation_at=now + timedelta(seconds=dispatch.escalate_after_s),
        )
        .returning(Dispatch.id)
    ).first()
    if claimed is None:
        return "skipped"
    session.refresh(dispatch)
    offered = offer_round(session, dispatch, incident, now)
    _timeline(
        session,
        incident.id,
        "escalated",
        None,
        dispatch.id,
        {"round": dispatch.round, "radius_m": radius, "offered": len(offered)},
        at=now,
    )
    return "escalated"


# ---------------------------------------------------------------------------------------------
# The incident board


def _may_view(user: User, incident: Incident) -> bool:
    if user.role == "admin":
        return True
    return user.role in ("officer", "responder") and incident.municipality_code in (
        user.municipality_codes
    )


def incident_board(session: Session, user: User, incident_id: str) -> dict[str, Any]:
    """Slots, who holds them, their ETA and status, and the timeline of an incident."""
    incident = get_incident(session, incident_id)
    if not _may_view(user, incident):
        raise Forbidden("you do not act for this incident's municipality")
    dispatches = list(
        session.scalars(
            select(Dispatch)
            .where(Dispatch.incident_id == incident_id)
            .order_by(Dispatch.created_at)
        )
    )
    ids = [d.id for d in dispatches]
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for dispatch_id, state, count in session.execute(
        select(Offer.dispatch_id, Offer.state, func.count())
        .where(Offer.dispatch_id.in_(ids))
        .group_by(Offer.dispatch_id, Offer.state)
    ):
        counts[dispatch_id][state] = int(count)
    slots: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for offer, profile, person in session.execute(
        select(Offer, ResponderProfile, User)
        .join(User, User.id == Offer.responder_id)
        .join(ResponderProfile, ResponderProfile.user_id == Offer.responder_id)
        .where(Offer.dispatch_id.in_(ids), Offer.state == "accepted")
        .order_by(Offer.responded_at)
    ):
        entry = profile_out(profile, person)
        slots[offer.dispatch_id].append(
            {
                "responder": {
                    k: entry[k]
                    for k in ("user_id", "username", "name", "kind", "unit", "phone", "lon", "lat")
                },
                "distance_m": round(offer.distance_m, 1),
                "accepted_at": offer.responded_at.isoformat() if offer.responded_at else None,
                "eta_min": offer.eta_min,
                "status": offer.status,
                "status_at": offer.status_at.isoformat() if offer.status_at else None,
            }
        )
    timeline = session.scalars(
        select(TimelineEntry)
        .where(TimelineEntry.incident_id == incident_id)
        .order_by(TimelineEntry.at, TimelineEntry.id)
    )
    return {
        "incident": incident_out(incident),
        "dispatches": [
            {
                **dispatch_out(d),
                "slots": slots.get(d.id, []),
                "offers": {
                    s: counts[d.id].get(s, 0)
                    for s in ("offered", "accepted", "declined", "expired", "withdrawn")
                },
            }
            for d in dispatches
        ],
        "timeline": [
            {
                "at": t.at.isoformat(),
                "event": t.event,
                "actor": t.actor,
                "dispatch_id": t.dispatch_id,
                "detail": t.detail,
            }
            for t in timeline
        ],
    }


def incident_out(incident: Incident) -> dict[str, Any]:
    return {
        "id": incident.id,
        "kind": incident.kind,
        "description": incident.description,
        "lon": incident.lon,
        "lat": incident.lat,
        "municipality_code": incident.municipality_code,
        "created_at": incident.created_at.isoformat(),
    }


def dispatch_out(dispatch: Dispatch) -> dict[str, Any]:
    return {
        "id": dispatch.id,
        "incident_id": dispatch.incident_id,
        "needed": dispatch.needed,
        "filled": dispatch.filled,
        "skills": dispatch.skills,
        "responder_kind": dispatch.responder_kind,
        "radius_m": dispatch.radius_m,
        "respond_within_s": dispatch.respond_within_s,
        "escalate_after_s": dispatch.escalate_after_s,
        "round": dispatch.round,
        "state": dispatch.state,
        "officer_alerted": dispatch.officer_alerted,
        "next_escalation_at": (
            dispatch.next_escalation_at.isoformat() if dispatch.next_escalation_at else None
        ),
        "created_at": dispatch.created_at.isoformat(),
    }
