"""Background work of the dispatch capability: offer expiry and escalation on a timer."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from dispatch import events, service
from kizuna.db import utcnow

if TYPE_CHECKING:
    from kizuna.runtime import Runtime

log = logging.getLogger(__name__)

ESCALATE = "dispatch.escalate"
ESCALATE_INTERVAL_S = 5.0
GATEWAY = "dispatch.gateway"


def escalate(runtime: Runtime, now: str | None = None) -> dict[str, Any]:
    """Expire unanswered offers, then widen (or give up on) every unfilled dispatch that is due.

    Everything is read from the database, so a restart loses nothing; `now` (ISO 8601) lets a
    test look ahead without sleeping."""
    moment = datetime.fromisoformat(now) if now else utcnow()
    with runtime.db.session() as session:
        expired = service.expire_offers(session, moment)
        due = service.due_dispatches(session, moment)
    outcomes: dict[str, str] = {}
    for dispatch_id in due:
        # One transaction per dispatch: one that fails does not hold back the others.
        try:
            with runtime.db.session() as session:
                outcomes[dispatch_id] = service.escalate_dispatch(session, dispatch_id, moment)
        except Exception:
            log.exception("escalating dispatch %s failed", dispatch_id)
            outcomes[dispatch_id] = "failed"
    return {"expired": expired, "dispatches": outcomes}


# --- Web Push of offers (issue 6) ------------------------------------------------------------
# Submitted by task name only: domains do not import integrations, and a deployment without the
# webpush integration simply has no such task.
PUSH_TASK = "webpush.notify"


def push_offers(runtime: Runtime, payload: dict[str, Any]) -> int:
    """Submit one `webpush.notify` per offered responder; returns how many were submitted."""
    if PUSH_TASK not in runtime.registry.names():
        return 0
    submitted = 0
    now = utcnow()
    for item in payload["offers"]:
        offer = item["offer"]
        # Seconds left to answer when the push leaves (the event may have waited in the
        # outbox); after that the offer is void, so the push service may drop it too.
        left = int((datetime.fromisoformat(offer["expires_at"]) - now).total_seconds())
        if left <= 0:
            continue
        runtime.tasks.submit(
            PUSH_TASK,
            user_id=item["responder_id"],
            subscription_id=None,
            payload={
                "type": "dispatch.offer",
                "dispatch_id": offer["dispatch_id"],
                "kind": offer["incident"]["kind"],
                "description": (offer["incident"].get("description") or "")[:500],
                "distance_m": offer["distance_m"],
                "respond_within_s": left,
            },
            topic=f"dispatch:{offer['dispatch_id']}",
            urgency="high",
            ttl_s=left,
        )
        submitted += 1
    return submitted


# --- end of Web Push of offers -----------------------------------------------------------------


def register(runtime: Runtime) -> None:
    """Register the escalation timer and the responders' live gateway on a runtime."""
    from dispatch.live import ResponderGateway

    runtime.registry.register(ESCALATE, escalate, max_retries=0)
    runtime.registry.every(ESCALATE, ESCALATE_INTERVAL_S)
    # The app factory is not ours to edit, so the gateway subscribes here and api.py finds it
    # in the runtime's cache.
    gateway = ResponderGateway(runtime)
    gateway.register()
    runtime.cache[GATEWAY] = gateway

    # Web Push of offers: a named group, so each offer is pushed once however many processes.
    async def on_offered_push(payload: dict[str, Any]) -> None:
        push_offers(runtime, payload)

    runtime.bus.subscribe(events.OFFERED, on_offered_push, group="dispatch.webpush")
