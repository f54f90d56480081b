"""Background work of shelters: forgetting old check-in idempotency keys."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shelters import service

if TYPE_CHECKING:
    from kizuna.runtime import Runtime

PURGE_KEYS = "shelters.purge_idempotency_keys"
PURGE_INTERVAL_S = 3600


def purge_keys(runtime: Runtime) -> int:
    """Forget check-in idempotency keys older than a day (a phone retries within minutes)."""
    with runtime.db.session() as session:
        return service.purge_idempotency_keys(session)


def register(runtime: Runtime) -> None:
    """Register this capability's tasks and timers on a runtime."""
    runtime.registry.register(PURGE_KEYS, purge_keys, max_retries=1)
    runtime.registry.every(PURGE_KEYS, PURGE_INTERVAL_S)
