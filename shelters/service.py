"""Shelter decisions: registry upserts, live state with optimistic concurrency, atomic
occupancy, history and the nearest open shelters with room."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from pyproj import Geod
from sqlalchemy import case, func, or_, select, update
from sqlalchemy.orm import Session

from gis import normalize_municipality_code
from kizuna import audit, idempotency
from kizuna.db import utcnow
from kizuna.errors import Conflict, Forbidden, InvalidInput, KizunaError, NotFound
from kizuna.models import User
from kizuna.outbox import emit
from shelters import events
from shelters.models import (
    HAZARDS,
    KINDS,
    STATUSES,
    WIFI_STATES,
    Shelter,
    ShelterHistory,
    ShelterManager,
)
from shelters.records import ImportReport, RowProblem, ShelterRecord, SnapshotRecord

GEOD = Geod(ellps="GRS80")
# Japan's extent with its remote islands (Okinotorishima to Etorofu, Yonaguni to Minamitorishima).
JAPAN_BOUNDS = (122.9, 20.4, 154.0, 45.6)
METRES_PER_DEGREE_LAT = 111_320.0


class PreconditionRequired(KizunaError):
    status_code = 428
    code = "precondition_required"


class PreconditionFailed(KizunaError):
    status_code = 412
    code = "stale_write"

    def __init__(self, message: str, current: dict[str, Any]) -> None:
        super().__init__(message, field="If-Match")
        self.current = current

    def to_body(self) -> dict[str, Any]:
        body = super().to_body()
        body["current"] = self.current
        return body


def etag(shelter: Shelter) -> str:
    """The shelter's ETag: its revision, quoted as HTTP wants."""
    return f'"{shelter.revision}"'


def shelter_out(shelter: Shelter, distance_m: float | None = None) -> dict[str, Any]:
    """The shelter as the API shows it."""
    out: dict[str, Any] = {
        "id": shelter.id,
        "source_id": shelter.source_id,
        "name": shelter.name,
        "address": shelter.address,
        "municipality_code": shelter.municipality_code,
        "lon": shelter.lon,
        "lat": shelter.lat,
        "kind": shelter.kind,
        "hazards": shelter.hazards,
        "status": shelter.status,
        "capacity": shelter.capacity,
        "occupancy": shelter.occupancy,
        "has_room": has_room(shelter),
        "wifi": {
            "status": shelter.wifi_status,
            "ssid": shelter.wifi_ssid,
            "checked_at": shelter.wifi_checked_at.isoformat() if shelter.wifi_checked_at else None,
        },
        "pets_allowed": shelter.pets_allowed,
        "accessible": shelter.accessible,
        "needs": shelter.needs,
        "phone": shelter.phone,
        "notes": shelter.notes,
        "revision": shelter.revision,
        "updated_by": shelter.updated_by,
        "updated_at": shelter.updated_at.isoformat(),
    }
    if distance_m is not None:
        out["distance_m"] = round(distance_m, 1)
    return out


def has_room(shelter: Shelter) -> bool:
    """Open and below capacity; an open shelter without a stated capacity counts as having room."""
    if shelter.status != "open":
        return False
    return shelter.capacity is None or shelter.occupancy < shelter.capacity


# ---------------------------------------------------------------------------------------------
# Registry


# Capacity and evacuee counts above this are typos (ShelterPatch allows the same).
MAX_PEOPLE = 1_000_000


def _record_problem(record: ShelterRecord) -> RowProblem | None:
    line = record.line or 0
    if not (-180 <= record.lon <= 180 and -90 <= record.lat <= 90):
        return RowProblem(line, f"coordinates lon={record.lon}, lat={record.lat} are off the globe")
    if record.capacity is not None and record.capacity < 0:
        return RowProblem(line, f"capacity {record.capacity} is negative")
    if record.capacity is not None and record.capacity > MAX_PEOPLE:
        # The API's bound too; a bigger number is a typo and would not fit the column.
        return RowProblem(line, f"capacity {record.capacity} is over {MAX_PEOPLE:,}")
    if record.kind not in KINDS:
        return RowProblem(line, f"unknown kind {record.kind!r}; one of {', '.join(KINDS)}")
    unknown = [h for h in record.hazards if h not in HAZARDS]
    if unknown:
        return RowProblem(line, f"unknown hazard {unknown[0]!r}; one of {', '.join(HAZARDS)}")
    if not record.name.strip():
        return RowProblem(line, "name is empty")
    return None


def _outside_japan(lon: float, lat: float) -> bool:
    west, south, east, north = JAPAN_BOUNDS
    return not (west <= lon <= east and south <= lat <= north)


def upsert_shelters(session: Session, records: list[ShelterRecord], actor: str) -> ImportReport:
    """Create or update shelters by (municipality, source ID); bad rows are reported, not stored."""
    report = ImportReport()
    seen: set[tuple[str, str]] = set()
    for record in records:
        problem = _record_problem(record)
        try:
            code = normalize_municipality_code(record.municipality_code)
        except ValueError as exc:
            problem = problem or RowProblem(record.line or 0, str(exc))
            code = ""
        if problem is not None:
            report.problems.append(problem)
            continue
        if (code, record.source_id) in seen:
            report.problems.append(
                RowProblem(record.line or 0, f"source ID {record.source_id} appears twice")
            )
            continue
        seen.add((code, record.source_id))
        if _outside_japan(record.lon, record.lat):
            report.problems.append(
                RowProblem(
                    record.line or 0,
                    f"lon={record.lon}, lat={record.lat} lies outside Japan; kept, please check",
                    warning=True,
                )
            )
        values = {
            "name": record.name.strip(),
            "address": record.address,
            "lon": record.lon,
            "lat": record.lat,
            "kind": record.kind,
            "hazards": sorted(set(record.hazards)),
            "capacity": record.capacity,
            "phone": record.phone,
        }
        shelter = session.scalar(
            select(Shelter).where(
                Shelter.municipality_code == code, Shelter.source_id == record.source_id
            )
        )
        if shelter is None:
            session.add(
                Shelter(
                    source_id=record.source_id, municipality_code=code, updated_by=actor, **values
                )
            )
            report.created += 1
            continue
        changed = {k: v for k, v in values.items() if getattr(shelter, k) != v}
        if not changed:
            report.unchanged += 1
            continue
        for key, value in changed.items():
            setattr(shelter, key, value)
        shelter.revision += 1
        shelter.updated_at = utcnow()
        shelter.updated_by = actor
        report.updated += 1
    session.flush()
    return report


def import_snapshots(session: Session, snapshots: list[SnapshotRecord], actor: str) -> ImportReport:
    """Store published status snapshots (open, evacuees at a time) as history points."""
    report = ImportReport()
    for snapshot in snapshots:
        line = snapshot.line or 0
        try:
            code = normalize_municipality_code(snapshot.municipality_code)
        except ValueError as exc:
            report.problems.append(RowProblem(line, str(exc)))
            continue
        if snapshot.occupancy < 0:
            report.problems.append(RowProblem(line, f"evacuees {snapshot.occupancy} is negative"))
            continue
        if snapshot.occupancy > MAX_PEOPLE:
            report.problems.append(RowProblem(line, f"evacuees {snapshot.occupancy} is too many"))
            continue
        query = select(Shelter).where(Shelter.municipality_code == code)
        if snapshot.source_id:
            shelter = session.scalar(query.where(Shelter.source_id == snapshot.source_id))
        else:
            shelter = None
        if shelter is None and snapshot.name:
            shelter = session.scalar(query.where(Shelter.name == snapshot.name.strip()))
        if shelter is None:
            report.problems.append(
                RowProblem(
                    line,
                    f"no shelter {snapshot.source_id or snapshot.name!r} in {code}; import the "
                    "registry first",
                )
            )
            continue
        exists = session.scalar(
            select(ShelterHistory.id).where(
                ShelterHistory.shelter_id == shelter.id,
                ShelterHistory.at == snapshot.at,
                ShelterHistory.source == "snapshot",
            )
        )
        if exists is not None:
            report.unchanged += 1
            continue
        session.add(
            ShelterHistory(
                shelter_id=shelter.id,
                at=snapshot.at,
                status=snapshot.status,
                occupancy=snapshot.occupancy,
                capacity=snapshot.capacity or shelter.capacity,
                wifi_status=shelter.wifi_status,
                source="snapshot",
                actor=actor,
            )
        )
        report.history_points += 1
    session.flush()
    return report


# ---------------------------------------------------------------------------------------------
# Live state


def get_shelter(session: Session, shelter_id: str) -> Shelter:
    shelter = session.get(Shelter, shelter_id)
    if shelter is None:
        raise NotFound(f"no shelter {shelter_id}")
    return shelter


def may_write(session: Session, user: User, shelter: Shelter) -> bool:
    """Its own managers, officers of its municipality, and admins may change a shelter."""
    if user.role == "admin":
        return True
    if user.role == "officer":
        return shelter.municipality_code in user.municipality_codes
    if user.role == "shelter_manager":
        return (
            session.scalar(
                select(ShelterManager.id).where(
                    ShelterManager.user_id == user.id, ShelterManager.shelter_id == shelter.id
                )
            )
            is not None
        )
    return False


def _require_write(session: Session, user: User, shelter: Shelter) -> None:
    if not may_write(session, user, shelter):
        raise Forbidden("you do not manage this shelter")


def _changed(
    session: Session, shelter: Shelter, actor: str, source: str, change: dict[str, Any]
) -> None:
    session.add(
        ShelterHistory(
            shelter_id=shelter.id,
            at=shelter.updated_at,
            status=shelter.status,
            occupancy=shelter.occupancy,
            capacity=shelter.capacity,
            wifi_status=shelter.wifi_status,
            source=source,
            actor=actor,
            change=change,
        )
    )
    emit(session, events.SHELTER_UPDATED, shelter_out(shelter))


def patch_shelter(
    session: Session,
    user: User,
    shelter_id: str,
    changes: dict[str, Any],
    if_match: str | None,
) -> Shelter:
    """Change a shelter's state if `If-Match` names its current revision (412 otherwise)."""
    shelter = get_shelter(session, shelter_id)
    _require_write(session, user, shelter)
    if if_match is None:
        raise PreconditionRequired(
            "send If-Match with the shelter's ETag, so no one's change is lost", field="If-Match"
        )
    if if_match.strip() not in (etag(shelter), "*"):
        raise PreconditionFailed(
            f"the shelter changed since you read it (now revision {shelter.revision})",
            shelter_out(shelter),
        )
    status = changes.get("status", shelter.status)
    capacity = changes.get("capacity", shelter.capacity)
    occupancy = changes.get("occupancy", shelter.occupancy)
    if status not in STATUSES:
        raise InvalidInput(f"unknown status {status!r}", field="status")
    if capacity is not None and occupancy > capacity and not changes.get("override"):
        raise Conflict(
            f"occupancy {occupancy} is above capacity {capacity}; "
            "send override: true to record it anyway",
            field="occupancy",
        )
    wifi = changes.pop("wifi", None)
    values: dict[str, Any] = {k: v for k, v in changes.items() if k != "override"}
    if wifi is not None:
        if "status" in wifi and wifi["status"] not in WIFI_STATES:
            raise InvalidInput(f"unknown Wi-Fi state {wifi['status']!r}", field="wifi.status")
        if "status" in wifi:
            values["wifi_status"] = wifi["status"]
            values["wifi_checked_at"] = utcnow()
        if "ssid" in wifi:
            values["wifi_ssid"] = wifi["ssid"]
    # Conditional on the revision read: a concurrent writer makes this match nothing.
    new_status = _derived_status(status, occupancy, capacity, explicit="status" in changes)
    values["status"] = new_status
    before = {k: getattr(shelter, k) for k in values}
    result = session.execute(
        update(Shelter)
        .where(Shelter.id == shelter.id, Shelter.revision == shelter.revision)
        .values(
            **values, revision=Shelter.revision + 1, updated_at=utcnow(), updated_by=user.username
        )
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        session.expire(shelter)
        raise PreconditionFailed("the shelter changed while you wrote", shelter_out(shelter))
    session.refresh(shelter)
    _changed(session, shelter, user.username, "api", {k: _jsonable(v) for k, v in values.items()})
    old, new = audit.changes(before, {k: getattr(shelter, k) for k in values})
    audit.record(
        session, actor=user, action="shelter.update", subject=shelter.id, before=old, after=new
    )
    return shelter


def _jsonable(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _derived_status(status: str, occupancy: int, capacity: int | None, explicit: bool) -> str:
    """`full` is set at capacity and cleared below it; a manager may also declare it; `closed`
    stays closed."""
    if status == "closed":
        return "closed"
    if capacity is not None and occupancy >= capacity:
        return "full"
    if status == "full" and explicit:
        return "full"
    return "open"


def change_occupancy(
    session: Session, user: User, shelter_id: str, delta: int, override: bool = False
) -> Shelter:
    """Check people in (delta > 0) or out (< 0) in one statement: never above capacity (without
    override), never below zero, `full` set and cleared as the count crosses capacity."""
    shelter = get_shelter(session, shelter_id)
    _require_write(session, user, shelter)
    if delta == 0:
        raise InvalidInput("delta must not be 0", field="delta")
    new_occupancy = Shelter.occupancy + delta
    conditions = [Shelter.id == shelter_id, new_occupancy >= 0]
    if delta > 0:
        conditions.append(Shelter.status.in_(("open", "full") if override else ("open",)))
        if not override:
            conditions.append(or_(Shelter.capacity.is_(None), new_occupancy <= Shelter.capacity))
    status = case(
        (Shelter.status == "closed", "closed"),
        (Shelter.capacity.is_not(None) & (new_occupancy >= Shelter.capacity), "full"),
        else_="open",
    )
    row = session.execute(
        update(Shelter)
        .where(*conditions)
        .values(
            occupancy=new_occupancy,
            status=status,
            revision=Shelter.revision + 1,
            updated_at=utcnow(),
            updated_by=user.username,
        )
        .returning(Shelter.id)
    ).first()
    if row is None:
        session.expire(shelter)
        current = get_shelter(session, shelter_id)
        if delta > 0 and current.status == "closed":
            raise Conflict("the shelter is closed; open it first", code="shelter_closed")
        if delta > 0:
            raise Conflict(
                f"no room: {current.occupancy} of {current.capacity} places taken",
                code="shelter_full",
            )
        raise Conflict(
            f"cannot check out {-delta}: only {current.occupancy} checked in",
            code="below_zero",
            field="delta",
        )
    session.refresh(shelter)
    _changed(session, shelter, user.username, "api", {"delta": delta})
    audit.record(
        session,
        actor=user,
        action="shelter.occupancy",
        subject=shelter.id,
        delta=delta,
        occupancy=shelter.occupancy,
        status=shelter.status,
        override=override,
    )
    return shelter


def occupancy_scope(shelter_id: str) -> str:
    """The idempotency scope of one shelter's check-ins and check-outs."""
    return f"shelters.occupancy:{shelter_id}"


@dataclass(frozen=True)
class OccupancyAnswer:
    """The answer to a check-in or check-out; `replayed` when it repeats an earlier request's."""

    status: int
    body: dict[str, Any]
    replayed: bool = False


def change_occupancy_once(
    session: Session,
    user: User,
    shelter_id: str,
    delta: int,
    override: bool = False,
    key: str | None = None,
) -> OccupancyAnswer:
    """`change_occupancy`, applied once per idempotency `key`: a repeat with the same key and
    request gets the first answer back and changes nothing (a different request: 422)."""
    # Permission first: a stored answer is only given to someone who may make the change.
    _require_write(session, user, get_shelter(session, shelter_id))
    if key is None:
        return OccupancyAnswer(
            200, shelter_out(change_occupancy(session, user, shelter_id, delta, override))
        )
    scope = occupancy_scope(shelter_id)
    digest = idempotency.request_hash({"delta": delta, "override": override})
    stored = idempotency.claim(session, scope, key, digest)
    if stored is not None:
        return OccupancyAnswer(stored.status, stored.body or {}, replayed=True)
    body = shelter_out(change_occupancy(session, user, shelter_id, delta, override))
    idempotency.record(session, scope, key, 200, body)
    return OccupancyAnswer(200, body)


def purge_idempotency_keys(session: Session) -> int:
    """Forget check-in idempotency keys older than a day; returns how many."""
    return idempotency.purge(session, "shelters.")


def history(session: Session, shelter_id: str, limit: int = 1000) -> list[ShelterHistory]:
    """The shelter's changes and snapshots, oldest first."""
    get_shelter(session, shelter_id)
    return list(
        session.scalars(
            select(ShelterHistory)
            .where(ShelterHistory.shelter_id == shelter_id)
            .order_by(ShelterHistory.at, ShelterHistory.id)
            .limit(limit)
        )
    )


def assign_manager(
    session: Session, user: User, shelter_id: str, assigned_by: User | None = None
) -> None:
    """Make a shelter manager responsible for a shelter (idempotent); `assigned_by` is
    recorded in the audit log (None: the system)."""
    if user.role != "shelter_manager":
        raise InvalidInput(f"{user.username} is not a shelter manager", field="username")
    shelter = get_shelter(session, shelter_id)
    if shelter.municipality_code not in user.municipality_codes:
        raise Forbidden("the manager acts for another municipality")
    if (
        session.scalar(
            select(ShelterManager.id).where(
                ShelterManager.user_id == user.id, ShelterManager.shelter_id == shelter_id
            )
        )
        is None
    ):
        session.add(ShelterManager(user_id=user.id, shelter_id=shelter_id))
        session.flush()
        audit.record(
            session,
            actor=assigned_by,
            action="shelter.manager.assign",
            subject=shelter_id,
            manager=user.username,
            manager_id=user.id,
        )


# ---------------------------------------------------------------------------------------------
# Finding a shelter


@dataclass(frozen=True)
class Found:
    shelter: Shelter
    distance_m: float


def search(
    session: Session,
    lon: float,
    lat: float,
    radius_m: float = 10_000,
    hazard: str | None = None,
    open_only: bool = False,
    with_room: bool = False,
    limit: int = 20,
    municipality_code: str | None = None,
) -> list[Found]:
    """Shelters within `radius_m` of a point, nearest first by geodesic distance."""
    if hazard is not None and hazard not in HAZARDS:
        raise InvalidInput(
            f"unknown hazard {hazard!r}; one of {', '.join(HAZARDS)}", field="hazard"
        )
    # A generous degree box around the circle, then exact geodesic distances.
    dlat = radius_m / METRES_PER_DEGREE_LAT * 1.01
    dlon = dlat / max(math.cos(math.radians(min(abs(lat) + dlat, 89.9))), 1e-6)
    query = select(Shelter).where(
        Shelter.lon.between(lon - dlon, lon + dlon), Shelter.lat.between(lat - dlat, lat + dlat)
    )
    if open_only or with_room:
        query = query.where(Shelter.status == "open")
    if with_room:
        query = query.where(or_(Shelter.capacity.is_(None), Shelter.occupancy < Shelter.capacity))
    if municipality_code is not None:
        query = query.where(Shelter.municipality_code == municipality_code)
    candidates = list(session.scalars(query))
    if hazard is not None:
        candidates = [s for s in candidates if hazard in s.hazards]
    if not candidates:
        return []
    lons = np.array([s.lon for s in candidates])
    lats = np.array([s.lat for s in candidates])
    _, _, distances = GEOD.inv(np.full_like(lons, lon), np.full_like(lats, lat), lons, lats)
    order = np.argsort(distances, kind="stable")
    found = [Found(candidates[i], float(distances[i])) for i in order if distances[i] <= radius_m]
    return found[:limit]


def nearest_with_room(
    session: Session,
    lon: float,
    lat: float,
    hazard: str | None,
    limit: int = 3,
    radius_m: float = 20_000,
) -> list[dict[str, Any]]:
    """The nearest open shelters with room (suitable for `hazard` when given), for alerts."""
    found = search(session, lon, lat, radius_m=radius_m, hazard=hazard, with_room=True, limit=limit)
    return [
        {
            "id": f.shelter.id,
            "name": f.shelter.name,
            "lon": f.shelter.lon,
            "lat": f.shelter.lat,
            "distance_m": round(f.distance_m, 1),
            "capacity": f.shelter.capacity,
            "occupancy": f.shelter.occupancy,
            "address": f.shelter.address,
        }
        for f in found
    ]


def count_by_status(session: Session, municipality_code: str) -> dict[str, int]:
    rows = session.execute(
        select(Shelter.status, func.count())
        .where(Shelter.municipality_code == municipality_code)
        .group_by(Shelter.status)
    ).all()
    return {status: int(count) for status, count in rows}


@dataclass(frozen=True)
class ShelterPlace:
    id: str
    name: str
    lon: float
    lat: float
    municipality_code: str


def shelter_place(session: Session, shelter_id: str) -> ShelterPlace:
    """Where a shelter is and whose it is (for call-ups of staff to it)."""
    shelter = get_shelter(session, shelter_id)
    return ShelterPlace(
        shelter.id, shelter.name, shelter.lon, shelter.lat, shelter.municipality_code
    )
