"""Shell routes: login and health."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

import kizuna.routing
from kizuna.auth import (
    authenticate,
    begin_login,
    issue_token,
    login_failed,
    login_succeeded,
)
from kizuna.deps import CurrentUser, DbSession, RuntimeDep
from kizuna.errors import NotAuthenticated

router = kizuna.routing.router()


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
    role: str
    municipality_codes: list[str]


class MeOut(BaseModel):
    id: str
    username: str
    role: str
    municipality_codes: list[str]


@router.post("/api/v1/auth/token", response_model=TokenOut, tags=["auth"])
def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], session: DbSession, runtime: RuntimeDep
) -> Any:
    """Exchange username and password (OAuth2 password form) for a bearer JWT; 429 `locked`
    after repeated failures for the username."""
    settings = runtime.settings
    # The attempt is counted in its own transaction: it must stay counted when the login fails.
    with runtime.db.session() as counting:
        attempt = begin_login(counting, settings, form.username)
    try:
        user = authenticate(session, settings, form.username, form.password)
    except NotAuthenticated:
        with runtime.db.session() as counting:
            login_failed(counting, settings, attempt)
        raise
    login_succeeded(session, attempt)
    token = issue_token(runtime.settings, user)
    return TokenOut(
        access_token=token.access_token,
        expires_in=token.expires_in,
        role=user.role,
        municipality_codes=user.municipality_codes,
    )


@router.get("/api/v1/auth/me", response_model=MeOut, tags=["auth"])
def me(user: CurrentUser) -> Any:
    """Who the bearer token belongs to."""
    return MeOut(
        id=user.id,
        username=user.username,
        role=user.role,
        municipality_codes=user.municipality_codes,
    )


@router.get("/healthz", tags=["ops"])
async def healthz() -> dict[str, str]:
    """Liveness: the process answers HTTP. It touches nothing else on purpose.

    An orchestrator restarts a process that fails liveness; a database blip would then restart
    every replica at once and drop every resident's WebSocket. Dependencies are `/readyz`'s job.
    """
    return {"status": "ok"}
