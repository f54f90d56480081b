"""Operations routes: Prometheus metrics and readiness."""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

import kizuna.routing
from kizuna import metrics
from kizuna.deps import RuntimeDep
from kizuna.errors import Forbidden, NotAuthenticated, error_body
from kizuna.runtime import Runtime

log = logging.getLogger(__name__)

router = kizuna.routing.router(tags=["ops"])

# Readiness must answer well before a load balancer's own timeout (typically 2–5 s).
REDIS_TIMEOUT_S = 1.0
WORKER_PING_TIMEOUT_S = 1.0


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def authorize_scrape(request: Request, token: str | None) -> None:
    """Let loopback clients scrape; others need `Authorization: Bearer <KIZUNA_METRICS_TOKEN>`."""
    client = request.client.host if request.client else None
    if _is_loopback(client):
        return
    if not token:
        raise Forbidden("metrics are served to loopback clients only (set KIZUNA_METRICS_TOKEN)")
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), token.encode()):
        raise NotAuthenticated("a valid metrics bearer token is required", field="Authorization")


@router.get("/metrics", response_class=Response)
async def metrics_endpoint(request: Request, runtime: RuntimeDep) -> Response:
    """Prometheus text exposition: alerts, deliveries, latency, queues, connections, HTTP."""
    secret = runtime.settings.metrics_token
    authorize_scrape(request, secret.get_secret_value() if secret else None)
    # Queue depths query the database and Redis: keep them off the event loop.
    body = await asyncio.to_thread(metrics.exposition, runtime)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def check_database(runtime: Runtime) -> str:
    """'ok' when the database answers a trivial query."""
    with runtime.db.session() as session:
        session.execute(text("SELECT 1"))
    return "ok"


def check_redis(runtime: Runtime) -> str:
    """'ok' when Redis answers PING within the timeout."""
    import redis

    assert runtime.settings.redis_url
    client = redis.Redis.from_url(
        runtime.settings.redis_url,
        socket_timeout=REDIS_TIMEOUT_S,
        socket_connect_timeout=REDIS_TIMEOUT_S,
    )
    try:
        client.ping()
    finally:
        client.close()
    return "ok"


def check_workers(runtime: Runtime, timeout: float = WORKER_PING_TIMEOUT_S) -> str:
    """'ok' when a Celery worker answers a ping (distributed) or the task runner is open."""
    if runtime.celery is None:
        # Embedded: tasks run on this process's thread pool; it is gone only after shutdown.
        alive = getattr(runtime.tasks, "alive", None)
        if alive is not None and not alive():
            raise RuntimeError("the in-process task runner is shut down")
        return "ok"
    replies = runtime.celery.control.ping(timeout=timeout)
    if not replies:
        raise RuntimeError(f"no Celery worker answered a ping within {timeout:g}s")
    return f"ok ({len(replies)} worker{'s' if len(replies) != 1 else ''})"


def readiness(runtime: Runtime) -> dict[str, str]:
    """Each check's result: 'ok…' or 'failed: reason'; Redis and workers only when they apply."""
    checks: dict[str, Any] = {"database": check_database}
    if runtime.settings.distributed:
        checks["redis"] = check_redis
    checks["workers"] = check_workers
    results: dict[str, str] = {}
    for name, check in checks.items():
        if name == "workers" and results.get("redis", "ok").startswith("failed"):
            # The ping travels through Redis: without it there is nothing to learn.
            results[name] = "failed: Redis unreachable"
            continue
        try:
            results[name] = check(runtime)
        except Exception as exc:
            log.warning("readiness: %s check failed: %s", name, exc)
            results[name] = f"failed: {type(exc).__name__}: {exc}"[:300]
    return results


@router.get("/readyz")
async def readyz(runtime: RuntimeDep) -> JSONResponse:
    """200 when the database, Redis and a worker answer; 503 naming the first failing check."""
    results = await asyncio.to_thread(readiness, runtime)
    failing = [name for name, result in results.items() if result.startswith("failed")]
    if not failing:
        return JSONResponse({"status": "ready", "checks": results})
    body = error_body("not_ready", f"{failing[0]} check failed: {results[failing[0]]}", failing[0])
    body["status"] = "not_ready"
    body["checks"] = results
    return JSONResponse(body, status_code=503, headers={"Retry-After": "5"})
