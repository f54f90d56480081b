"""Request ids, access log lines and HTTP metrics, as one pure ASGI middleware."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kizuna import metrics
from kizuna.context import RequestContext, reset_request, set_request
from kizuna.security import client_address
from kizuna.settings import Settings

access_log = logging.getLogger("kizuna.access")

HEADER = b"x-request-id"
# A client's id is kept only when it is a short plain token: it goes into every log line.
SANE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def request_id_from(headers: list[tuple[bytes, bytes]]) -> str:
    """The client's X-Request-ID when it is a sane token, else a new uuid4 (hex)."""
    for name, value in headers:
        if name.lower() == HEADER:
            try:
                candidate = value.decode("ascii")
            except UnicodeDecodeError:
                break
            if SANE_ID.fullmatch(candidate):
                return candidate
            break
    return uuid.uuid4().hex


def route_of(scope: Scope) -> str:
    """The matched route's template (`/api/v1/alerts/{alert_id}`), never the raw path."""
    route = scope.get("route")
    template = getattr(route, "path", None)
    if isinstance(template, str):
        return template
    if str(scope.get("path", "")).startswith("/static/"):
        return "/static"
    return "unmatched"


class RequestIdMiddleware:
    """Gives every HTTP request and WebSocket a request id, and logs and counts each request.

    The id is current (`kizuna.context`) while the request runs, so every log line and every
    task it submits carries it; it is echoed in the `X-Request-ID` response header.
    """

    def __init__(self, app: ASGIApp, settings: Settings | None = None) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(scope.get("headers", []))
        # Behind a trusted proxy the caller is the forwarded address, not the proxy's.
        if self.settings is not None:
            remote: str | None = client_address(scope, self.settings)
        else:
            client = scope.get("client")
            remote = client[0] if client else None
        token = set_request(RequestContext(request_id, remote))
        try:
            if scope["type"] == "http":
                await self._http(scope, receive, send, request_id)
            else:
                await self._websocket(scope, receive, send, request_id)
        finally:
            reset_request(token)

    async def _http(self, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
        started = time.perf_counter()
        status = 500  # what the client gets if the app raises before answering

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message["headers"] = [*message.get("headers", []), (HEADER, request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            method = str(scope.get("method", ""))
            route = route_of(scope)
            metrics.HTTP_REQUESTS.labels(method=method, route=route, status=str(status)).inc()
            metrics.HTTP_DURATION.labels(method=method, route=route).observe(elapsed)
            access_log.info(
                "%s %s %d",
                method,
                route,
                status,
                extra={
                    "method": method,
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 1),
                },
            )

    async def _websocket(self, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "websocket.accept":
                headers: list[Any] = list(message.get("headers") or [])
                message["headers"] = [*headers, (HEADER, request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = route_of(scope)
            access_log.info(
                "WEBSOCKET %s closed",
                route,
                extra={
                    "method": "WEBSOCKET",
                    "route": route,
                    "duration_ms": round(elapsed * 1000, 1),
                },
            )
