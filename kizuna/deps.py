"""FastAPI dependencies: the runtime, a session per request, the caller's identity and role."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session

from kizuna.auth import user_from_token
from kizuna.errors import Forbidden, NotAuthenticated
from kizuna.models import User
from kizuna.runtime import Runtime

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _session(runtime: Annotated[Runtime, Depends(get_runtime)]) -> Iterator[Session]:
    with runtime.db.session() as session:
        yield session


# Committed when the route function returns, before the answer is sent: a write the client was
# told about is durable, and a failing commit still becomes an error answer.
get_session = Depends(_session, scope="function")
DbSession = Annotated[Session, get_session]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def bearer_token(token: Annotated[str | None, Depends(oauth2_scheme)]) -> str | None:
    return token


def current_user(
    runtime: RuntimeDep, session: DbSession, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> User:
    """The logged-in user named by the bearer JWT."""
    if not token:
        raise NotAuthenticated("log in first: Authorization: Bearer <token>")
    return user_from_token(session, runtime.settings, token)


CurrentUser = Annotated[User, Depends(current_user)]


def optional_user(
    runtime: RuntimeDep, session: DbSession, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> User | None:
    """The logged-in user on a public route; None for anyone else (a resident's subscription
    token on the same header included)."""
    if not token:
        return None
    try:
        return user_from_token(session, runtime.settings, token)
    except NotAuthenticated:
        return None


MaybeUser = Annotated[User | None, Depends(optional_user)]


def require_role(*roles: str) -> Callable[[User], User]:
    """A dependency that admits only users with one of `roles`."""

    def check(user: CurrentUser) -> User:
        if user.role not in roles:
            raise Forbidden(f"this needs the role {' or '.join(roles)}; you are {user.role}")
        return user

    return check
