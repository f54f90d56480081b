"""The app factory: builds a runtime from settings and assembles every domain's routes."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from anyio import to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

import alerts.api
import dispatch.api
import integrations.opendata.api
import kizuna.api
import kizuna.audit_api
import kizuna.ops_api
import kizuna.web.api
import mutual_aid.api
import shelters.api
from alerts.live import ResidentGateway
from integrations import INTEGRATIONS
from kizuna import security
from kizuna.errors import ERROR_RESPONSES, KizunaError, RateLimited, error_body
from kizuna.observability import RequestIdMiddleware
from kizuna.routing import RequestSlots
from kizuna.runtime import Runtime, build_runtime
from kizuna.settings import Settings
from kizuna.web import STATIC_DIR
from shelters.live import ShelterBoard

log = logging.getLogger(__name__)
# Connections kept free of HTTP requests for the background loops and WebSocket handlers.
BACKGROUND_CONNECTIONS = 10
# Paths that never touch the database; probes and static files answer while requests queue.
NO_DATABASE = ("/healthz", "/metrics", "/static/")


def _field_path(location: Any) -> str | None:
    parts = [p for p in location if p not in ("body", "query", "path", "header", "form")]
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or None


def install_error_handlers(app: FastAPI) -> None:
    """Every error, ours or the framework's, leaves in the one error shape."""

    @app.exception_handler(KizunaError)
    async def domain_error(_: Request, exc: KizunaError) -> JSONResponse:
        headers: dict[str, str] = {}
        if exc.status_code == 401:
            headers["WWW-Authenticate"] = "Bearer"
        if isinstance(exc, RateLimited):
            headers["Retry-After"] = str(exc.retry_after_s)
        return JSONResponse(exc.to_body(), status_code=exc.status_code, headers=headers or None)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        message = str(first.get("msg", "invalid request")).removeprefix("Value error, ")
        field = _field_path(first.get("loc", ()))
        if first.get("type") == "missing":
            message = f"{field or 'value'} is required"
        return JSONResponse(error_body("invalid_input", message, field), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {
            401: "not_authenticated",
            403: "forbidden",
            404: "not_found",
            405: "method_not_allowed",
            413: "too_large",
        }.get(exc.status_code, "http_error")
        return JSONResponse(
            error_body(code, str(exc.detail)),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(DataError)
    async def unstorable_value(_: Request, exc: DataError) -> JSONResponse:
        # The database refused a value the schemas let through (a NUL byte in text, a number
        # out of the column's range); the transaction was rolled back, so nothing was stored.
        reason = str(exc.orig).splitlines()[0] if exc.orig is not None else "value not storable"
        log.info("data error: %s", reason)
        return JSONResponse(error_body("invalid_input", f"a value cannot be stored: {reason}"), 422)

    @app.exception_handler(IntegrityError)
    async def write_conflict(_: Request, exc: IntegrityError) -> JSONResponse:
        # Two writers raced for the same unique key; the loser's transaction was rolled back.
        log.info("integrity conflict: %s", exc.orig)
        return JSONResponse(
            error_body("conflict", "a concurrent change got there first; read again and retry"),
            status_code=409,
        )

    @app.exception_handler(OperationalError)
    async def database_unavailable(_: Request, exc: OperationalError) -> JSONResponse:
        log.error("database error: %s", exc)
        return JSONResponse(
            error_body("database_unavailable", "the database is busy or unreachable; retry"),
            status_code=503,
            headers={"Retry-After": "2"},
        )


class BodySizeLimit:
    """Refuse request bodies over the configured size before reading them into memory."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            response = JSONResponse(
                error_body("too_large", f"request body over {self.max_bytes} bytes"),
                status_code=413,
            )
            await response(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Any:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise StarletteHTTPException(413, f"request body over {self.max_bytes} bytes")
            return message

        await self.app(scope, limited_receive, send)


async def _periodic(runtime: Runtime, task: str, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            runtime.tasks.submit(task)
        except Exception:
            log.exception("could not schedule %s", task)


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    """Build the Kizuna API for `settings` (read from the environment when not given)."""
    settings = settings or Settings()
    runtime = runtime or build_runtime(settings)
    gateway = ResidentGateway(runtime)
    gateway.register()
    board = ShelterBoard(runtime)
    board.register()

    request_slots = max(1, runtime.db.connection_limit - BACKGROUND_CONNECTIONS)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # More worker threads than request slots: a request holding a connection always finds
        # a thread (kizuna/routing.py).
        limiter = to_thread.current_default_thread_limiter()
        limiter.total_tokens = max(limiter.total_tokens, 2 * request_slots)
        await runtime.bus.start()
        background = [
            asyncio.create_task(runtime.relay.run(), name="outbox-relay"),
            asyncio.create_task(gateway.sweep_forever(), name="delivery-sweep"),
        ]
        if not settings.distributed:
            # Distributed mode runs these timers once for the cluster, in Celery beat.
            background += [
                asyncio.create_task(_periodic(runtime, name, interval), name=name)
                for name, interval in runtime.registry.timers.items()
            ]
        runtime.relay.kick()
        try:
            yield
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            await runtime.bus.stop()
            await asyncio.to_thread(runtime.close)

    app = FastAPI(
        title="Kizuna",
        version="0.1.0",
        description="Disaster alerts, shelters, dispatch and mutual aid for municipalities.",
        lifespan=lifespan,
        responses=ERROR_RESPONSES,
    )
    app.state.runtime = runtime
    app.state.resident_gateway = gateway
    app.state.shelter_board = board
    install_error_handlers(app)
    # Innermost: a request waiting for a slot holds no connection, thread or lock.
    app.add_middleware(RequestSlots, slots=request_slots, exempt=NO_DATABASE)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)
    security.install(app, runtime)
    # Outermost: every answer, a 413 or another middleware's included, gets an id and a log line.
    app.add_middleware(RequestIdMiddleware, settings=settings)
    app.include_router(kizuna.api.router)
    app.include_router(kizuna.ops_api.router)
    app.include_router(kizuna.audit_api.router)
    app.include_router(alerts.api.router)
    app.include_router(alerts.api.ws_router)
    app.include_router(shelters.api.router)
    app.include_router(shelters.api.ws_router)
    app.include_router(integrations.opendata.api.router)
    for package in (dispatch.api, mutual_aid.api):
        app.include_router(package.router)
        app.include_router(package.ws_router)
    for name in INTEGRATIONS:
        app.include_router(importlib.import_module(f"integrations.{name}.api").router)
    app.include_router(kizuna.web.api.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
