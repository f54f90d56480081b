"""How requests reach the database without waiting on each other in a circle.

Two waits can close a circle: a request holding a database connection (and, once it wrote, a
lock) that waits for a worker thread, while every worker thread waits for a connection or that
lock. `KizunaRoute` removes the wait after the write; `RequestSlots` bounds the requests in
flight by the connection pool, and the app keeps more worker threads than slots, so a request
holding a connection always finds a thread.

FastAPI runs a sync route on a worker thread, then validates its answer on another worker thread
and only then exits the route's dependencies (our session commits there). A route that wrote holds
its lock (SQLite's write lock, a PostgreSQL row lock) across that second wait; if every worker
thread is held by requests waiting for that lock, nobody moves until the busy timeout. Running
the sync function on a thread from an async wrapper makes FastAPI validate on the event loop, so
a writer needs nothing more from the pool between its first write and its commit.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send


def _on_worker_thread(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(endpoint)  # FastAPI reads the signature through __wrapped__
    async def run(**arguments: Any) -> Any:
        return await run_in_threadpool(endpoint, **arguments)

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
