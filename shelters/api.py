"""HTTP and WebSocket routes of the shelters capability."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Header, Query, Request, Response, WebSocket
from fastapi.responses import JSONResponse
from sqlalchemy import select

import kizuna.routing
from gis import normalize_municipality_code
from kizuna import idempotency
from kizuna.deps import CurrentUser, DbSession, MaybeUser, require_role
from kizuna.errors import Forbidden, InvalidInput
from kizuna.models import User
from shelters import service
from shelters.live import ShelterBoard
from shelters.models import Shelter
from shelters.schemas import (
    HistoryPoint,
    ManagerAssignment,
    OccupancyChange,
    ShelterOut,
    ShelterPatch,
)

router = kizuna.routing.router(prefix="/api/v1/shelters", tags=["shelters"])
ws_router = kizuna.routing.router()
Writer = Annotated[User, Depends(require_role("shelter_manager", "officer", "admin"))]
Officer = Annotated[User, Depends(require_role("officer", "admin"))]
GEOJSON = "application/geo+json"


def _feature(shelter: dict[str, Any]) -> dict[str, Any]:
    properties = {k: v for k, v in shelter.items() if k not in ("lon", "lat")}
    return {
        "type": "Feature",
        "id": shelter["id"],
        "geometry": {"type": "Point", "coordinates": [shelter["lon"], shelter["lat"]]},
        "properties": properties,
    }


@router.get("", response_model=list[ShelterOut])
def find_shelters(
    request: Request,
    session: DbSession,
    lon: Annotated[float | None, Query(ge=-180, le=180)] = None,
    lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
    radius_m: Annotated[float, Query(gt=0, le=200_000)] = 10_000,
    hazard: str | None = None,
    open: bool = False,
    has_room: bool = False,
    municipality: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
) -> Any:
    """Shelters near a point, nearest first (geodesic metres), or all of one municipality."""
    code = None
    if municipality is not None:
        try:
            code = normalize_municipality_code(municipality)
        except ValueError as exc:
            raise InvalidInput(str(exc), field="municipality") from None
    if (lon is None) != (lat is None):
        raise InvalidInput("give both lon and lat", field="lat" if lat is None else "lon")
    if lon is not None and lat is not None:
        found = service.search(session, lon, lat, radius_m, hazard, open, has_room, limit, code)
        shelters = [service.shelter_out(f.shelter, f.distance_m) for f in found]
    elif code is not None:
        query = select(Shelter).where(Shelter.municipality_code == code).order_by(Shelter.name)
        if open or has_room:
            query = query.where(Shelter.status == "open")
        rows = [
            s
            for s in session.scalars(query.limit(limit))
            if (not has_room or service.has_room(s)) and (hazard is None or hazard in s.hazards)
        ]
        shelters = [service.shelter_out(s) for s in rows]
    else:
        raise InvalidInput("give lon and lat, or a municipality", field="lon")
    if GEOJSON in request.headers.get("accept", ""):
        return JSONResponse(
            {"type": "FeatureCollection", "features": [_feature(s) for s in shelters]},
            media_type=GEOJSON,
        )
    return shelters


@router.get("/{shelter_id}", response_model=ShelterOut)
def get_shelter(shelter_id: str, session: DbSession, response: Response) -> Any:
    """One shelter; its ETag is what If-Match must name to change it."""
    shelter = service.get_shelter(session, shelter_id)
    response.headers["ETag"] = service.etag(shelter)
    return service.shelter_out(shelter)


@router.patch("/{shelter_id}", response_model=ShelterOut)
def patch_shelter(
    shelter_id: str,
    body: ShelterPatch,
    session: DbSession,
    user: Writer,
    response: Response,
    if_match: Annotated[str | None, Header()] = None,
) -> Any:
    """Change status, capacity, Wi-Fi, needs…; a stale If-Match gets 412 and the current state."""
    changes = body.model_dump(exclude_unset=True)
    if "wifi" in changes and changes["wifi"] is not None:
        changes["wifi"] = body.wifi.model_dump(exclude_unset=True) if body.wifi else None
    shelter = service.patch_shelter(session, user, shelter_id, changes, if_match)
    response.headers["ETag"] = service.etag(shelter)
    return service.shelter_out(shelter)


@router.post("/{shelter_id}/occupancy", response_model=ShelterOut)
def change_occupancy(
    shelter_id: str,
    body: OccupancyChange,
    session: DbSession,
    user: Writer,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias=idempotency.HEADER,
            description="Any 1-100 characters of A-Z a-z 0-9 _ -: a repeat gets the first answer "
            "(header Idempotent-Replayed: true) and counts nothing again; kept 24 h.",
        ),
    ] = None,
) -> Any:
    """Check people in (positive delta) or out (negative); 409 when full, closed or below 0."""
    key = idempotency.check_key(idempotency_key)
    answer = service.change_occupancy_once(
        session, user, shelter_id, body.delta, body.override, key
    )
    headers = {"ETag": f'"{answer.body.get("revision")}"'}
    if answer.replayed:
        headers[idempotency.REPLAYED_HEADER] = "true"
    return JSONResponse(answer.body, status_code=answer.status, headers=headers)


@router.get("/{shelter_id}/history", response_model=list[HistoryPoint])
def shelter_history(
    shelter_id: str,
    session: DbSession,
    user: MaybeUser,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> Any:
    """Every change and published snapshot of the shelter, oldest first; who made each change
    only for those who may change it."""
    shelter = service.get_shelter(session, shelter_id)
    show_actor = user is not None and service.may_write(session, user, shelter)
    return [
        {
            "at": h.at.isoformat(),
            "status": h.status,
            "occupancy": h.occupancy,
            "capacity": h.capacity,
            "wifi_status": h.wifi_status,
            "source": h.source,
            "actor": h.actor if show_actor else None,
        }
        for h in service.history(session, shelter_id, limit)
    ]


@router.post("/{shelter_id}/managers", status_code=204)
def assign_manager(
    shelter_id: str, body: ManagerAssignment, session: DbSession, user: Officer
) -> Response:
    """Make a shelter manager responsible for this shelter."""
    shelter = service.get_shelter(session, shelter_id)
    # Shelters are public, so another city's officer is told 403 (as for PATCH), not 404.
    if user.role != "admin" and shelter.municipality_code not in user.municipality_codes:
        raise Forbidden("you do not act for this shelter's municipality")
    manager = session.scalar(select(User).where(User.username == body.username))
    if manager is None:
        raise InvalidInput(f"no user {body.username}", field="username")
    service.assign_manager(session, manager, shelter_id, assigned_by=user)
    return Response(status_code=204)


@router.get("/me/managed", response_model=list[ShelterOut], include_in_schema=False)
def managed(session: DbSession, user: CurrentUser) -> Any:
    """Shelters the caller manages."""
    from shelters.models import ShelterManager

    rows = session.scalars(
        select(Shelter)
        .join(ShelterManager, ShelterManager.shelter_id == Shelter.id)
        .where(ShelterManager.user_id == user.id)
    )
    return [service.shelter_out(s) for s in rows]


@ws_router.websocket("/ws/shelters")
async def shelters_socket(websocket: WebSocket, municipality: str | None = None) -> None:
    """The live shelter board of one municipality."""
    board: ShelterBoard = websocket.app.state.shelter_board
    await board.serve(websocket, municipality)
