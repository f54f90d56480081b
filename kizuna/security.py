"""HTTP hardening: security headers on every answer, CORS, client addresses behind proxies."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kizuna.settings import Settings

if TYPE_CHECKING:
    from kizuna.runtime import Runtime

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
HSTS = "max-age=63072000; includeSubDomains"
# FastAPI's own documentation pages load Swagger UI / ReDoc from a CDN and start it with an
# inline script; they hold no resident data, so they get a CSP that lets exactly that run.
DOCS_PATHS = ("/docs", "/docs/oauth2-redirect", "/redoc")
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src 'self' https://fonts.gstatic.com; "
    "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; "
    "worker-src 'self' blob:; object-src 'none'; frame-ancestors 'none'; base-uri 'none'"
)


@lru_cache(maxsize=64)
def _networks(entries: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _trusted(address: str | None, networks: Iterable[IPNetwork]) -> bool:
    ip = _ip(address or "")
    return ip is not None and any(ip in network for network in networks)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def _peer(scope: Scope) -> str | None:
    client = scope.get("client")
    return str(client[0]) if client else None


def client_address(scope: Scope, settings: Settings) -> str:
    """The caller's address: the TCP peer, or, when the peer is a trusted proxy, the nearest
    X-Forwarded-For hop that is not itself a trusted proxy."""
    peer = _peer(scope) or "unknown"
    networks = _networks(tuple(settings.trusted_proxies))
    if not networks or not _trusted(peer, networks):
        return peer
    forwarded = _header(scope, b"x-forwarded-for")
    if not forwarded:
        return peer
    # Read from the right: each trusted proxy appended the address it saw, while everything
    # left of the first untrusted hop may be written by the client itself (so taking the
    # leftmost hop would let anyone pick their own rate-limit bucket).
    for hop in reversed([part.strip() for part in forwarded.split(",")]):
        ip = _ip(hop)
        if ip is None:
            return peer
        if not any(ip in network for network in networks):
            return str(ip)
    return peer


def is_https(scope: Scope, settings: Settings) -> bool:
    """Whether the request came over TLS: to us, or to a trusted proxy that says so."""
    if scope.get("scheme") in ("https", "wss"):
        return True
    networks = _networks(tuple(settings.trusted_proxies))
    if networks and _trusted(_peer(scope), networks):
        proto = _header(scope, b"x-forwarded-proto") or ""
        return proto.split(",")[0].strip().lower() == "https"
    return False


def tile_source(map_tile_url: str | None) -> str | None:
    """The CSP source for the map tile host of a Leaflet URL template, e.g.
    `https://{s}.tile.example.org/{z}/{x}/{y}.png` → `https://*.tile.example.org`."""
    if not map_tile_url:
        return None
    parts = urlsplit(map_tile_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    labels = parts.netloc.split(".")
    if "{" in labels[0]:
        labels[0] = "*"
    if any("{" in label or "}" in label for label in labels):
        # A placeholder CSP cannot express: allow the scheme rather than break the map.
        return f"{parts.scheme}:"
    return f"{parts.scheme}://{'.'.join(labels)}"


def content_security_policy(settings: Settings) -> str:
    """The pages' CSP: our own scripts only, no plugins, no framing, images from the tile host."""
    images = " ".join(filter(None, ["'self'", "data:", tile_source(settings.map_tile_url)]))
    return (
        "default-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'; "
        f"base-uri 'none'; img-src {images}; connect-src 'self' ws: wss:"
    )


class SecurityHeaders:
    """Pure ASGI middleware adding the security headers to every HTTP answer."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = is_https(scope, self.settings)
        path = str(scope.get("path", ""))
        csp = DOCS_CSP if path in DOCS_PATHS else content_security_policy(self.settings)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "no-referrer"
                headers["X-Frame-Options"] = "DENY"
                headers["Content-Security-Policy"] = csp
                if https:
                    headers["Strict-Transport-Security"] = HSTS
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install(app: FastAPI, runtime: Runtime) -> None:
    """Add the hardening middleware: per-address limits on public routes, CORS (only for the
    configured origins) and, outermost so even refusals carry them, the security headers."""
    from kizuna.ratelimit import RouteLimit, RouteRateLimits

    settings = runtime.settings
    app.add_middleware(
        RouteRateLimits,
        runtime=runtime,
        limits=[
            RouteLimit("POST", "/api/v1/subscriptions", "subscription"),
            RouteLimit("POST", "/api/v1/auth/token", "login"),
        ],
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "If-Match", "Idempotency-Key"],
            expose_headers=["ETag", "Retry-After", "Idempotent-Replayed"],
            # Bearer tokens travel in a header, never in cookies: no credentials mode.
            allow_credentials=False,
        )
    app.add_middleware(SecurityHeaders, settings=settings)
