"""Shell routes: login and health."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel
from sqlalchemy import text

from kizuna.auth import authenticate, issue_token
from kizuna.deps import CurrentUser, DbSession, RuntimeDep

router = APIRouter()


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
    """Exchange username and password (OAuth2 password form) for a bearer JWT."""
    user = authenticate(session, form.username, form.password)
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
def healthz(session: DbSession) -> dict[str, str]:
    """Alive, and the database answers."""
    session.execute(text("SELECT 1"))
    return {"status": "ok"}
