"""Users, password hashing (argon2) and bearer JWTs."""

from __future__ import annotations

import functools
import hashlib
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from gis import normalize_municipality_code
from kizuna import audit, ratelimit
from kizuna.db import new_id, utcnow
from kizuna.errors import Conflict, InvalidInput, NotAuthenticated, RateLimited
from kizuna.models import ROLES, Municipality, User
from kizuna.settings import Settings

# argon2id with 4 lanes, as argon2-cffi's default; memory and passes come from the settings.
PARALLELISM = 4
USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9_.@-]{3,64}$")
JWT_ALGORITHM = "HS256"
MIN_PASSWORD_LENGTH = 8


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int


@functools.cache
def _hasher(memory_kib: int, time_cost: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=PARALLELISM)


def password_hasher(settings: Settings) -> PasswordHasher:
    """The argon2id hasher for new passwords; any stored hash verifies with its own cost."""
    return _hasher(settings.password_hash_memory_kib, settings.password_hash_time_cost)


@functools.cache
def _dummy_hash(hasher: PasswordHasher) -> str:
    return hasher.hash("not-a-real-password-kizuna")


def hash_password(password: str, settings: Settings) -> str:
    """An argon2id hash of `password` at the configured cost."""
    return password_hasher(settings).hash(password)


def create_user(
    session: Session,
    settings: Settings,
    username: str,
    password: str,
    role: str,
    municipality_codes: list[str],
    display_name: str | None = None,
    require_known_municipalities: bool = True,
    created_by: User | str | None = None,
) -> User:
    """Create a user after checking name, role, password strength and municipality codes;
    `created_by` is recorded in the audit log (None: the system)."""
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
        password_hash=hash_password(password, settings),
        role=role,
        municipality_codes=codes,
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor=created_by,
        action="user.create",
        subject=user.id,
        username=username,
        role=role,
        municipality_codes=codes,
    )
    return user


def authenticate(session: Session, settings: Settings, username: str, password: str) -> User:
    """The user whose name and password match; NotAuthenticated otherwise (same message)."""
    user = session.scalar(select(User).where(User.username == username))
    # Verify against a dummy hash for unknown users so timing does not reveal who exists.
    hasher = password_hasher(settings)
    stored = user.password_hash if user is not None and user.active else _dummy_hash(hasher)
    try:
        hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        raise NotAuthenticated("wrong username or password") from None
    if user is None or not user.active:
        raise NotAuthenticated("wrong username or password")
    return user


def change_password(session: Session, settings: Settings, user: User, new_password: str) -> None:
    """Set a new password; every token issued before now stops working."""
    if len(new_password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"password must be at least {MIN_PASSWORD_LENGTH} characters", field="password"
        )
    user.password_hash = hash_password(new_password, settings)
    user.password_changed_at = utcnow()
    session.flush()
    audit.record(session, actor=user, action="user.password_change", subject=user.id)


# ---------------------------------------------------------------------------------------------
# Login lockout: failures are counted per username (known or not, so the answers do not tell
# who exists) in one-fifteenth slices of the failure window, summed over the window.


def _username_key(username: str) -> str:
    # Hashed: any text may be sent as a username, and the bucket column is short.
    return hashlib.sha256(username.encode("utf-8", "surrogatepass")).hexdigest()


def _locked_error(settings: Settings, locked_at: datetime, now: datetime) -> RateLimited:
    until = locked_at + timedelta(seconds=settings.login_lockout_s)
    return RateLimited(
        "too many failed logins for this username; try again later",
        max(1, math.ceil((until - now).total_seconds())),
        field="username",
        code="locked",
    )


@dataclass(frozen=True)
class LoginAttempt:
    """A login attempt counted against its username (see begin_login)."""

    lock_bucket: str
    failure_bucket: str
    failures: int


def begin_login(session: Session, settings: Settings, username: str) -> LoginAttempt:
    """Refuse (429 `locked`) a username that is locked; else count this attempt as a failure
    until it succeeds, so guesses sent together cannot all slip in before the lock. The caller
    commits before checking the password."""
    key = _username_key(username)
    now = utcnow()
    window = timedelta(seconds=settings.login_failure_window_s)
    lockout = timedelta(seconds=settings.login_lockout_s)
    lock_bucket = f"login-lock:{key}"
    last_lock = ratelimit.latest_mark(session, lock_bucket, now - lockout - window)
    if last_lock is not None and last_lock > now - lockout:
        raise _locked_error(settings, last_lock, now)
    # Failures count from the last lock on, each lock starting a fresh bucket: an attempt that
    # raced the lock lands in the old, full bucket and is refused.
    epoch = 0 if last_lock is None else int(last_lock.timestamp() * 1000)
    attempt = LoginAttempt(lock_bucket, f"login-fail:{key}:{epoch}", 0)
    slice_s = max(1, settings.login_failure_window_s // 15)
    ratelimit.add(session, attempt.failure_bucket, slice_s, now)
    failures = ratelimit.total(session, attempt.failure_bucket, now - window)
    if failures > settings.login_max_failures:
        # Guesses past the limit: lock without checking the password.
        ratelimit.mark(session, lock_bucket, now)
        session.commit()  # the lock must outlive this refusal
        raise _locked_error(settings, now, now)
    return LoginAttempt(lock_bucket, attempt.failure_bucket, failures)


def login_failed(session: Session, settings: Settings, attempt: LoginAttempt) -> None:
    """After a wrong password: lock the username once it reached the allowed failures."""
    if attempt.failures >= settings.login_max_failures:
        ratelimit.mark(session, attempt.lock_bucket, utcnow())


def login_succeeded(session: Session, attempt: LoginAttempt) -> None:
    """A right password clears the username's failures."""
    ratelimit.forget(session, attempt.failure_bucket)


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
        # The password this token was issued under, to the microsecond (see user_from_token).
        "pwd": _password_stamp(user),
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
    # A password change revokes every token issued before it. `iat` has whole seconds, so a
    # token issued in the same second as the change is told apart by its password stamp.
    stamp = claims.get("pwd")
    revoked = (
        stamp != _password_stamp(user)
        if stamp is not None
        else claims["iat"] < int(user.password_changed_at.timestamp())
    )
    if revoked:
        raise NotAuthenticated(
            "token revoked by a password change; log in again", code="token_revoked"
        )
    return user


def _password_stamp(user: User) -> int:
    # Whole microseconds since the epoch, in integers (a float would round).
    return (user.password_changed_at - _EPOCH) // timedelta(microseconds=1)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
