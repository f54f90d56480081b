"""How requests reach the database without waiting on each other in a circle.

Two waits can close a circle: a request holding a database connection (and, once it wrote, a
lock) that waits for a worker thread, while every worker thread waits for a connection or that
lock. `KizunaRoute` commits a sync route's session on its own worker thread as soon as it
returns, so nothing waits between the write and the commit; `RequestSlots` bounds the requests in
flight by the connection pool, and the app keeps more worker threads than slots, so a request
holding a connection always finds a thread.

FastAPI runs a sync route on a worker thread, then validates its answer on another worker thread
and only then exits the route's dependencies (where the session would commit). A route that wrote
would hold its lock (SQLite's write lock, a PostgreSQL row lock) across that second wait.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send


def _commit_after(endpoint: Callable[..., Any], arguments: dict[str, Any]) -> Any:
    result = endpoint(**arguments)
    # Commit on the same thread, before the answer is built: the write lock is held for the
    # database work alone, and a failing commit still becomes the error answer. The session
    # dependency's own commit afterwards finds nothing to do.
    for value in arguments.values():
        if isinstance(value, Session):
            value.commit()
    return result


def _on_worker_thread(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(endpoint)  # FastAPI reads the signature through __wrapped__
    async def run(**arguments: Any) -> Any:
        return await run_in_threadpool(_commit_after, endpoint, arguments)

    return run


class KizunaRoute(APIRoute):
    """An APIRoute whose sync endpoint is awaited on a worker thread from an async wrapper."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if not inspect.iscoroutinefunction(endpoint):
            endpoint = _on_worker_thread(endpoint)
        super().__init__(path, endpoint, **kwargs)


def router(**kwargs: Any) -> APIRouter:
    """An APIRouter whose routes are KizunaRoutes."""
    return APIRouter(route_class=KizunaRoute, **kwargs)


class RequestSlots:
    """Admits at most `slots` HTTP requests at once; the others wait their turn holding neither a
    worker thread nor a database connection. Paths under `exempt` never touch the database."""

    def __init__(self, app: ASGIApp, slots: int, exempt: tuple[str, ...] = ()) -> None:
        self.app = app
        self.exempt = exempt
        self._slots = asyncio.Semaphore(slots)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.exempt):
            await self.app(scope, receive, send)
            return
        async with self._slots:
            await self.app(scope, receive, send)
