"""HTTP and WebSocket routes of mutual aid (共助)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, WebSocket

import kizuna.routing
from kizuna.deps import DbSession, RuntimeDep, bearer_token, require_role
from kizuna.models import User
from mutual_aid import service
from mutual_aid.live import CACHE_KEY, AidGateway
from mutual_aid.schemas import AidRequestIn, AidRequestOut, MatchOut, VolunteerIn, VolunteerOut

router = kizuna.routing.router(prefix="/api/v1/aid", tags=["mutual_aid"])
ws_router = kizuna.routing.router()
VolunteerUser = Annotated[User, Depends(require_role("volunteer"))]
Officer = Annotated[User, Depends(require_role("officer", "admin"))]
Staff = Annotated[User, Depends(require_role(*service.STAFF_ROLES))]
Token = Annotated[str | None, Depends(bearer_token)]


def caller(session: DbSession, runtime: RuntimeDep, token: Token) -> service.Caller:
    """A resident by subscription token, or a user by JWT."""
    return service.resolve_caller(session, runtime.settings, token)


AnyCaller = Annotated[service.Caller, Depends(caller)]


@router.post("/requests", response_model=AidRequestOut, status_code=201)
def create_request(body: AidRequestIn, session: DbSession, who: AnyCaller) -> Any:
    """Ask for help (a resident's subscription token, or staff on someone's behalf)."""
    # Past the limit, RateLimited leaves as 429 with Retry-After (the app's error handler).
    request = service.create_request(session, who, body)
    return service.request_out(request, who)


@router.get("/requests/nearby", response_model=list[AidRequestOut])
def nearby(
    session: DbSession, user: VolunteerUser, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> Any:
    """Open requests the volunteer can serve, best first; places rounded, no contact."""
    who = service.Caller(user=user)
    return [service.request_out(r, who, d) for r, d in service.nearby(session, user, limit)]


@router.get("/requests/{request_id}", response_model=AidRequestOut)
def get_request(request_id: str, session: DbSession, who: AnyCaller) -> Any:
    """One request, as much of it as the caller may see."""
    return service.request_out(service.get_request(session, who, request_id), who)


@router.post("/requests/{request_id}/claim", response_model=AidRequestOut)
def claim(request_id: str, session: DbSession, user: VolunteerUser) -> Any:
    """Take the request; 409 when someone else got it first or you are at your task limit."""
    return service.request_out(service.claim(session, user, request_id), service.Caller(user=user))


@router.post("/requests/{request_id}/release", response_model=AidRequestOut)
def release(request_id: str, session: DbSession, user: VolunteerUser) -> Any:
    """Give your unstarted claim back."""
    return service.request_out(
        service.release(session, user, request_id), service.Caller(user=user)
    )


@router.post("/requests/{request_id}/start", response_model=AidRequestOut)
def start(request_id: str, session: DbSession, user: VolunteerUser) -> Any:
    """You are on your way."""
    return service.request_out(service.start(session, user, request_id), service.Caller(user=user))


@router.post("/requests/{request_id}/complete", response_model=AidRequestOut)
def complete(request_id: str, session: DbSession, user: VolunteerUser) -> Any:
    """Done; 403 on someone else's claim."""
    request = service.complete(session, user, request_id)
    return service.request_out(request, service.Caller(user=user))


@router.post("/requests/{request_id}/cancel", response_model=AidRequestOut)
def cancel(request_id: str, session: DbSession, who: AnyCaller) -> Any:
    """The requester (or an officer) withdraws the request."""
    return service.request_out(service.cancel(session, who, request_id), who)


@router.post("/requests/{request_id}/hide", response_model=AidRequestOut)
def hide(request_id: str, session: DbSession, user: Staff) -> Any:
    """Staff hide an abusive request from volunteers."""
    return service.request_out(service.hide(session, user, request_id), service.Caller(user=user))


@router.put("/volunteers/me", response_model=VolunteerOut)
def set_volunteer(body: VolunteerIn, session: DbSession, user: VolunteerUser) -> Any:
    """Your skills, vehicle, home place, travel radius, availability and task limit."""
    return service.volunteer_out(service.set_volunteer(session, user, body))


@router.get("/volunteers/me", response_model=VolunteerOut)
def get_volunteer(session: DbSession, user: VolunteerUser) -> Any:
    """Your volunteer profile, with how many tasks you hold now."""
    return service.volunteer_out(service.get_volunteer(session, user))


@router.post("/match", response_model=MatchOut)
def match(session: DbSession, user: Officer) -> Any:
    """Propose the optimal assignment of open requests to free volunteers; claims nothing."""
    return service.propose(session, user)


@ws_router.websocket("/ws/aid")
async def aid_socket(websocket: WebSocket, token: str | None = None) -> None:
    """A requester's live view of their requests (subscription token or user JWT)."""
    gateway: AidGateway = websocket.app.state.runtime.cache[CACHE_KEY]
    await gateway.serve(websocket, token)
