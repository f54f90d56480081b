"""Background work of mutual aid: releasing stale claims, purging old personal data, and the
requesters' live gateway."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mutual_aid import events, service
from mutual_aid.live import CACHE_KEY, AidGateway

if TYPE_CHECKING:
    from kizuna.runtime import Runtime

RELEASE_STALE = "aid.release_stale"
PURGE = "aid.purge"


def release_stale(runtime: Runtime) -> int:
    """Put claims left unstarted past `service.CLAIM_TIMEOUT` back in the pool."""
    with runtime.db.session() as session:
        return len(service.release_stale(session))


def purge(runtime: Runtime) -> int:
    """Close requests older than `service.RETENTION` and erase their personal data."""
    with runtime.db.session() as session:
        return service.purge(session)


# --- Web Push of request steps (issue 7) -------------------------------------------------------
# Submitted by task name only: domains do not import integrations, and a deployment without the
# webpush integration simply has no such task.
PUSH_TASK = "webpush.notify"
PUSH_TTL_S = 24 * 3600


def push_request_changed(runtime: Runtime, payload: dict[str, Any]) -> int:
    """Submit `webpush.notify` to the requester (resident and/or the staff member who asked);
    returns how many were submitted."""
    if PUSH_TASK not in runtime.registry.names():
        return 0
    if payload.get("event") == "created":
        return 0  # the requester has just made it; the steps others take are the news
    message = {
        "type": "aid.request",
        "request_id": payload["request_id"],
        "state": payload["state"],
    }
    owners = [
        {"user_id": None, "subscription_id": payload.get("subscription_id")},
        {"user_id": payload.get("created_by"), "subscription_id": None},
    ]
    submitted = 0
    for owner in owners:
        if owner["user_id"] is None and owner["subscription_id"] is None:
            continue
        runtime.tasks.submit(
            PUSH_TASK,
            **owner,
            payload=message,
            topic=f"aid:{payload['request_id']}",
            urgency="normal",
            ttl_s=PUSH_TTL_S,
        )
        submitted += 1
    return submitted


# --- end of Web Push of request steps ----------------------------------------------------------


def register(runtime: Runtime) -> None:
    """Register this capability's tasks, timers and bus handlers on a runtime."""
    runtime.registry.register(RELEASE_STALE, release_stale, max_retries=1)
    runtime.registry.every(RELEASE_STALE, 30)
    runtime.registry.register(PURGE, purge, max_retries=1)
    runtime.registry.every(PURGE, 3600)
    gateway = AidGateway(runtime)
    runtime.cache[CACHE_KEY] = gateway
    # group=None: every API process hears every event and tells the requesters connected to it.
    runtime.bus.subscribe(events.AID_REQUEST_CHANGED, gateway.on_changed)

    # Web Push of each step: a named group, so each step is pushed once however many processes.
    async def on_changed_push(payload: dict[str, Any]) -> None:
        push_request_changed(runtime, payload)

    runtime.bus.subscribe(events.AID_REQUEST_CHANGED, on_changed_push, group="aid.webpush")
