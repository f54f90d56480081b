"""Background work of the dispatch capability: offer expiry and escalation on a timer."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from dispatch import service
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
