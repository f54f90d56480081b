"""Background work of mutual aid: releasing stale claims, purging old personal data, and the
requesters' live gateway."""

from __future__ import annotations

from typing import TYPE_CHECKING

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
