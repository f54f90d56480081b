"""HTTP and WebSocket routes of the dispatch capability."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, WebSocket
from sqlalchemy.orm import Session

import kizuna.routing
import shelters
from dispatch import service
from dispatch.live import ResponderGateway
from dispatch.schemas import (
    DispatchIn,
    IncidentIn,
    ProfileIn,
    ResponseIn,
    StaffCallIn,
    StatusIn,
)
from dispatch.tasks import GATEWAY
from kizuna.auth import user_from_token
from kizuna.deps import CurrentUser, DbSession, RuntimeDep, bearer_token
from kizuna.errors import NotAuthenticated
from kizuna.models import User

router = kizuna.routing.router(tags=["dispatch"])
ws_router = kizuna.routing.router()
Token = Annotated[str | None, Depends(bearer_token)]


@router.get("/api/v1/responders/me")
def my_profile(session: DbSession, user: CurrentUser) -> dict[str, Any]:
    """The caller's own roster entry (with location, whatever the availability)."""
    return service.profile_out(service.get_profile(session, user), user, show_location=True)


@router.put("/api/v1/responders/me")
def set_my_profile(body: ProfileIn, session: DbSession, user: CurrentUser) -> dict[str, Any]:
    """Kind, unit, skills, availability and last known location of the calling responder."""
    profile = service.set_profile(session, user, body.model_dump())
    return service.profile_out(profile, user, show_location=True)


@router.get("/api/v1/responders/me/offers")
def my_offers(session: DbSession, user: CurrentUser) -> list[dict[str, Any]]:
    """Offers waiting for the caller's answer."""
    return service.open_offers(session, user)


@router.get("/api/v1/responders")
def list_responders(
    session: DbSession, user: CurrentUser, municipality: Annotated[str, Query()]
) -> list[dict[str, Any]]:
    """A municipality's roster, for its officers; locations only of those on duty."""
    return service.roster(session, user, municipality)


@router.post("/api/v1/incidents", status_code=201)
def create_incident(body: IncidentIn, session: DbSession, user: CurrentUser) -> dict[str, Any]:
    """Open an incident (officer of its municipality, or admin)."""
    return service.incident_out(service.create_incident(session, user, body.model_dump()))


@router.get("/api/v1/incidents/{incident_id}")
def incident_board(incident_id: str, session: DbSession, user: CurrentUser) -> dict[str, Any]:
    """The incident board: slots, who, ETA, status and the timeline."""
    return service.incident_board(session, user, incident_id)


@router.post("/api/v1/incidents/{incident_id}/dispatches", status_code=201)
def create_dispatch(
    incident_id: str, body: DispatchIn, session: DbSession, user: CurrentUser
) -> dict[str, Any]:
    """Call for responders; offers go out at once to the nearest qualified ones."""
    dispatch, offered = service.create_dispatch(session, user, incident_id, body.model_dump())
    return {
        **service.dispatch_out(dispatch),
        "offered": [
            {
                "responder_id": c.user_id,
                "username": c.username,
                "distance_m": round(c.distance_m, 1),
            }
            for c in offered
        ],
    }


@router.post("/api/v1/shelters/{shelter_id}/staff", status_code=201)
def call_staff_to_shelter(
    shelter_id: str, body: StaffCallIn, session: DbSession, user: CurrentUser
) -> dict[str, Any]:
    """Call N staff to a shelter: a shelter-support incident there, offered to staff only."""
    place = shelters.shelter_place(session, shelter_id)
    incident = service.create_incident(
        session,
        user,
        {
            "kind": "shelter_support",
            "description": f"{place.name}: {body.description}".rstrip(": "),
            "lon": place.lon,
            "lat": place.lat,
            "municipality_code": place.municipality_code,
        },
    )
    dispatch, offered = service.create_dispatch(
        session,
        user,
        incident.id,
        {**body.model_dump(exclude={"description"}), "responder_kind": "staff"},
    )
    return {
        **service.dispatch_out(dispatch),
        "incident_id": incident.id,
        "shelter_id": place.id,
        "offered": [
            {
                "responder_id": c.user_id,
                "username": c.username,
                "distance_m": round(c.distance_m, 1),
            }
            for c in offered
        ],
    }


# Responses come in bursts (fifty phones at once), so their routes use one session, opened and
# committed inside the one worker thread: the caller is looked up in it, too. The request-scoped
# session would hold a second pooled connection per request and commit in another threadpool
# call; a burst larger than the pool or the threadpool then deadlocks on SQLite's write lock.
def _caller(session: Session, runtime: RuntimeDep, token: str | None) -> User:
    if not token:
        raise NotAuthenticated("log in first: Authorization: Bearer <token>")
    return user_from_token(session, runtime.settings, token)


@router.post("/api/v1/dispatches/{dispatch_id}/responses")
def respond(
    dispatch_id: str, body: ResponseIn, runtime: RuntimeDep, token: Token
) -> dict[str, Any]:
    """Accept (taking a slot, or 409 when filled) or decline an offer."""
    with runtime.db.session() as session:
        user = _caller(session, runtime, token)
        return service.respond(session, user, dispatch_id, body.accept, body.eta_min)


@router.post("/api/v1/dispatches/{dispatch_id}/status")
def report_status(
    dispatch_id: str, body: StatusIn, runtime: RuntimeDep, token: Token
) -> dict[str, Any]:
    """en_route, on_scene, cleared — forward only."""
    with runtime.db.session() as session:
        user = _caller(session, runtime, token)
        return service.report_status(session, user, dispatch_id, body.status)


@router.post("/api/v1/dispatches/{dispatch_id}/cancel")
def cancel_dispatch(dispatch_id: str, session: DbSession, user: CurrentUser) -> dict[str, Any]:
    """Stop a dispatch; unanswered offers are withdrawn."""
    return service.dispatch_out(service.cancel_dispatch(session, user, dispatch_id))


@ws_router.websocket("/ws/responders")
async def responders_socket(websocket: WebSocket, token: str | None = None) -> None:
    """Offers and withdrawals for the responder the JWT names; 1008 on a bad token."""
    gateway: ResponderGateway = websocket.app.state.runtime.cache[GATEWAY]
    await gateway.serve(websocket, token)
