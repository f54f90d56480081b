"""Background work of the alerts capability: fan-out of an issued version, and expiry."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import update

from alerts import events, service
from alerts.models import AlertVersion
from kizuna.bus import BusUnavailable
from kizuna.db import utcnow

if TYPE_CHECKING:
    from kizuna.runtime import Runtime

log = logging.getLogger(__name__)

FANOUT = "alerts.fanout"
EXPIRE = "alerts.expire"


def fanout(runtime: Runtime, version_id: str) -> int:
    """Record a pending delivery for every recipient of a version, chunk by chunk, and announce
    each chunk to the live gateways. Safe to run again: existing records are left alone."""
    with runtime.db.session() as session:
        version = session.get(AlertVersion, version_id)
        if version is None:
            log.error("fanout: no alert version %s", version_id)
            return 0
        service.supersede_older(session, version)
        recipients = service.recipients_of(session, version)
    chunk_size = runtime.settings.fanout_chunk_size
    for start in range(0, len(recipients), chunk_size):
        chunk = recipients[start : start + chunk_size]
        with runtime.db.session() as session:
            for channel in service.CHANNELS:
                service.record_deliveries(session, version_id, chunk, channel)
        announce(runtime, version_id, chunk)
    with runtime.db.session() as session:
        session.execute(
            update(AlertVersion)
            .where(AlertVersion.id == version_id)
            .values(fanout_completed_at=utcnow())
        )
    log.info("fanout of %s: %d recipients", version_id, len(recipients))
    return len(recipients)


def announce(runtime: Runtime, version_id: str, subscription_ids: list[str]) -> None:
    """Tell every live gateway a chunk is ready; if the bus is down, their sweep finds it."""
    try:
        runtime.bus.publish(
            events.ALERT_DELIVER, events.alert_deliver(version_id, subscription_ids)
        )
    except BusUnavailable:
        log.warning("bus unavailable: chunk of %s left for the delivery sweep", version_id)


def expire(runtime: Runtime) -> list[str]:
    """Move alerts past their expiry out of the active list."""
    with runtime.db.session() as session:
        expired = service.expire_alerts(session)
    if expired:
        runtime.relay.kick()
    return expired


def register(runtime: Runtime) -> None:
    """Register the alerts tasks and bus handlers on a runtime."""
    runtime.registry.register(FANOUT, fanout)
    runtime.registry.register(EXPIRE, expire, max_retries=0)

    async def on_issued(payload: dict[str, Any]) -> None:
        runtime.tasks.submit(FANOUT, version_id=payload["version_id"])

    runtime.bus.subscribe(events.ALERT_ISSUED, on_issued, group="fanout")
