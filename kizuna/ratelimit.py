"""Fixed-window rate limits counted in the database, so a limit holds across API processes.

A bucket names what is limited (a route and a caller); each fixed window of it is one row of
`rate_windows`, counted by one INSERT … ON CONFLICT DO NOTHING and one conditional UPDATE …
RETURNING — the same two statements on SQLite and PostgreSQL, atomic under concurrency.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from fastapi.responses import JSONResponse
from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Receive, Scope, Send

from kizuna.db import utcnow
from kizuna.errors import RateLimited
from kizuna.models import RateWindow

if TYPE_CHECKING:
    from kizuna.runtime import Runtime

log = logging.getLogger(__name__)
PURGE_WINDOWS = "kizuna.purge_rate_windows"
PURGE_INTERVAL_S = 3600
# Every window setting is at most a day; rows older than two days count for nothing.
KEEP = timedelta(days=2)


def window_start(now: datetime, window_s: int) -> datetime:
    """The start of the fixed window of `window_s` seconds holding `now` (aligned to the epoch)."""
    epoch = int(now.timestamp())
    return datetime.fromtimestamp(epoch - epoch % window_s, tz=UTC)


def _insert(session: Session) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def _open_window(session: Session, bucket: str, start: datetime) -> None:
    session.execute(
        _insert(session)(RateWindow)
        .values(bucket=bucket, window_start=start, count=0)
        .on_conflict_do_nothing(index_elements=["bucket", "window_start"])
    )


def hit(
    session: Session,
    bucket: str,
    limit: int,
    window_s: int,
    now: datetime | None = None,
    message: str | None = None,
) -> None:
    """Count one hit of `bucket` in the current window; RateLimited (nothing counted) past
    `limit`. A limit of 0 means no limit."""
    if limit <= 0:
        return
    now = now or utcnow()
    start = window_start(now, window_s)
    _open_window(session, bucket, start)
    counted = session.execute(
        update(RateWindow)
        .where(
            RateWindow.bucket == bucket,
            RateWindow.window_start == start,
            RateWindow.count < limit,
        )
        .values(count=RateWindow.count + 1)
        .returning(RateWindow.count)
    ).first()
    if counted is None:
        retry_after = max(1, math.ceil((start + timedelta(seconds=window_s) - now).total_seconds()))
        raise RateLimited(
            message or f"too many requests: at most {limit} in {window_s} s; try again later",
            retry_after,
        )


def add(session: Session, bucket: str, granularity_s: int, now: datetime | None = None) -> None:
    """Count one event of `bucket` without a limit, in windows of `granularity_s` (for sums
    over a sliding period with `total`)."""
    now = now or utcnow()
    start = window_start(now, granularity_s)
    _open_window(session, bucket, start)
    session.execute(
        update(RateWindow)
        .where(RateWindow.bucket == bucket, RateWindow.window_start == start)
        .values(count=RateWindow.count + 1)
    )


def total(session: Session, bucket: str, since: datetime) -> int:
    """Events of `bucket` counted in windows that started after `since`."""
    return int(
        session.scalar(
            select(func.coalesce(func.sum(RateWindow.count), 0)).where(
                RateWindow.bucket == bucket, RateWindow.window_start > since
            )
        )
        or 0
    )


def mark(session: Session, bucket: str, at: datetime) -> None:
    """Record that something happened to `bucket` at `at` (e.g. an account was locked)."""
    session.execute(
        _insert(session)(RateWindow)
        .values(bucket=bucket, window_start=at, count=1)
        .on_conflict_do_nothing(index_elements=["bucket", "window_start"])
    )


def latest_mark(session: Session, bucket: str, since: datetime) -> datetime | None:
    """The latest `mark` of `bucket` after `since`, if any."""
    found: datetime | None = session.scalar(
        select(func.max(RateWindow.window_start)).where(
            RateWindow.bucket == bucket, RateWindow.window_start > since
        )
    )
    if found is not None and found.tzinfo is None:
        # An aggregate bypasses the column type on SQLite: put the zone back.
        found = found.replace(tzinfo=UTC)
    return found


def forget(session: Session, bucket: str) -> None:
    """Drop every window of `bucket` (e.g. a successful login clears its failures)."""
    session.execute(delete(RateWindow).where(RateWindow.bucket == bucket))


def purge(session: Session, now: datetime | None = None) -> int:
    """Delete windows too old to count for any limit; the number deleted."""
    cutoff = (now or utcnow()) - KEEP
    result = session.execute(delete(RateWindow).where(RateWindow.window_start < cutoff))
    return int(getattr(result, "rowcount", 0) or 0)


def purge_windows(runtime: Runtime) -> int:
    """The periodic task: forget rate windows older than two days."""
    with runtime.db.session() as session:
        return purge(session)


def register(runtime: Runtime) -> None:
    """Register the purge of old rate windows as an hourly timer."""
    runtime.registry.register(PURGE_WINDOWS, purge_windows, max_retries=1)
    runtime.registry.every(PURGE_WINDOWS, PURGE_INTERVAL_S)


# ---------------------------------------------------------------------------------------------
# Limits per client address on public routes


@dataclass(frozen=True)
class RouteLimit:
    """A route limited per client address; `setting` names `<setting>_rate_limit` and
    `<setting>_rate_window_s` in Settings, read on every request (so a change applies at once)."""

    method: str
    path: str
    setting: str


class RouteRateLimits:
    """Pure ASGI middleware: counts each request to a limited route against its client address
    and answers 429 with `Retry-After` past the limit, before the route runs."""

    def __init__(self, app: ASGIApp, runtime: Runtime, limits: list[RouteLimit]) -> None:
        self.app = app
        self.runtime = runtime
        self.limits: Mapping[tuple[str, str], RouteLimit] = {
            (limit.method, limit.path.rstrip("/")): limit for limit in limits
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = str(scope.get("path", "")).rstrip("/")
            limit = self.limits.get((str(scope.get("method", "")), path))
            if limit is not None:
                refused = await asyncio.to_thread(self._count, limit, scope)
                if refused is not None:
                    response = JSONResponse(
                        refused.to_body(),
                        status_code=refused.status_code,
                        headers={"Retry-After": str(refused.retry_after_s)},
                    )
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)

    def _count(self, limit: RouteLimit, scope: Scope) -> RateLimited | None:
        from kizuna.security import client_address

        settings = self.runtime.settings
        allowed = int(getattr(settings, f"{limit.setting}_rate_limit"))
        window_s = int(getattr(settings, f"{limit.setting}_rate_window_s"))
        address = client_address(scope, settings)
        try:
            with self.runtime.db.session() as session:
                hit(
                    session,
                    f"{limit.setting}:{address}",
                    allowed,
                    window_s,
                    message=f"too many requests from your address: at most {allowed} in "
                    f"{window_s} s; try again later",
                )
        except RateLimited as exc:
            return exc
        except SQLAlchemyError as exc:
            # A busy or unreachable database must not turn the limiter into an outage of its
            # own: the request goes on, and the route answers 503 if the database is really down.
            log.warning("rate limit %s not counted: %s", limit.setting, exc)
        return None
