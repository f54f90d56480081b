"""Users, password hashing (argon2) and bearer JWTs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from gis import normalize_municipality_code
from kizuna.db import new_id, utcnow
from kizuna.errors import Conflict, InvalidInput, NotAuthenticated
from kizuna.models import ROLES, Municipality, User
from kizuna.settings import Settings

_hasher = PasswordHasher()
USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9_.@-]{3,64}$")
JWT_ALGORITHM = "HS256"
MIN_PASSWORD_LENGTH = 8


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int


def hash_password(password: str) -> str:
    """An argon2id hash of `password`."""
    return _hasher.hash(password)


def create_user(
    session: Session,
    username: str,
    password: str,
    role: str,
    municipality_codes: list[str],
    display_name: str | None = None,
    require_known_municipalities: bool = True,
) -> User:
    """Create a user after checking name, role, password strength and municipality codes."""
    if not USERNAME_PATTERN.match(username):
        raise InvalidInput("username must be 3-64 letters, digits or _ . @ -", field="username")
    if role not in ROLES:
        raise InvalidInput(f"unknown role {role!r}; one of {', '.join(ROLES)}", field="role")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"password must be at least {MIN_PASSWORD_LENGTH} characters", field="password"
        )
    codes: list[str] = []
    for index, raw in enumerate(municipality_codes):
        try:
            code = normalize_municipality_code(raw)
        except ValueError as exc:
            raise InvalidInput(str(exc), field=f"municipality_codes[{index}]") from None
        if require_known_municipalities and session.get(Municipality, code) is None:
            raise InvalidInput(
                f"unknown municipality code {code}; import its boundary first "
                "(kizuna areas import)",
                field=f"municipality_codes[{index}]",
            )
        codes.append(code)
    if role != "admin" and not codes:
        raise InvalidInput(
            "a user other than admin needs a municipality", field="municipality_codes"
        )
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"user {username!r} already exists", field="username")
    user = User(
        id=new_id(),
        username=username,
        display_name=display_name,
        password_hash=hash_password(password),
        role=role,
        municipality_codes=codes,
    )
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, username: str, password: str) -> User:
    """The user whose name and password match; NotAuthenticated otherwise (same message)."""
    user = session.scalar(select(User).where(User.username == username))
    # Verify against a dummy hash for unknown users so timing does not reveal who exists.
    stored = user.password_hash if user is not None and user.active else _DUMMY_HASH
    try:
        _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        raise NotAuthenticated("wrong username or password") from None
    if user is None or not user.active:
        raise NotAuthenticated("wrong username or password")
    return user


def issue_token(settings: Settings, user: User) -> IssuedToken:
    """A signed bearer JWT for `user`, valid for the configured lifetime."""
    now = utcnow()
    lifetime = timedelta(minutes=settings.jwt_ttl_minutes)
    claims = {
        "sub": user.id,
        "role": user.role,
        "mun": user.municipality_codes,
        "iat": int(now.timestamp()),
        "exp": int((now + lifetime).timestamp()),
        "jti": new_id(),
        "typ": "access",
    }
    token = jwt.encode(claims, settings.resolved_secret_key(), algorithm=JWT_ALGORITHM)
    return IssuedToken(access_token=token, expires_in=int(lifetime.total_seconds()))


def user_from_token(session: Session, settings: Settings, token: str) -> User:
    """The active user a bearer JWT names; NotAuthenticated if expired, forged or revoked."""
    try:
        claims = jwt.decode(
            token,
            settings.resolved_secret_key(),
            algorithms=[JWT_ALGORITHM],
            options={"require": ["exp", "iat", "sub"]},
        )
    except jwt.ExpiredSignatureError:
        raise NotAuthenticated("token expired; log in again", code="token_expired") from None
    except jwt.PyJWTError:
        raise NotAuthenticated("invalid bearer token") from None
    user = session.get(User, claims["sub"])
    if user is None or not user.active:
        raise NotAuthenticated("the token's user no longer exists or is disabled")
    # A password change revokes every token issued before it.
    if claims["iat"] < int(user.password_changed_at.timestamp()):
        raise NotAuthenticated("token revoked by a password change; log in again")
    return user


_DUMMY_HASH = _hasher.hash("not-a-real-password-kizuna")
