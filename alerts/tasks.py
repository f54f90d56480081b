"""Background work of the alerts capability: chunked fan-out, its reconciler, and expiry.

The database is the source of truth for fan-out progress: a version is split once into fixed
chunks, each chunk's delivery rows are inserted idempotently, and a chunk counts as done only
after that. Whatever a crash, a lost queue message or a Redis restart leaves unfinished, the
reconciler submits again; doing a chunk twice inserts and sends nothing twice.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from alerts import events, service
from alerts.models import AlertVersion, FanoutChunk
from kizuna import metrics
from kizuna.bus import BusUnavailable
from kizuna.db import utcnow

if TYPE_CHECKING:
    from kizuna.runtime import Runtime

log = logging.getLogger(__name__)


class Notifier(Protocol):
    """A delivery channel beyond the WebSocket (Web Push, ...), offered by an integration.

    Registered as `runtime.notifiers[channel] = notifier`. For each fan-out chunk, rows are
    recorded for `reachable(...)`, then `send(...)` claims its pending rows and sends them;
    it must be safe to call again for the same chunk (claim-then-send, like the gateway).
    """

    channel: str

    def reachable(self, session: Any, subscription_ids: list[str]) -> list[str]: ...

    def send(self, runtime: Runtime, version_id: str, subscription_ids: list[str]) -> None: ...


FANOUT = "alerts.fanout"
DELIVER_CHUNK = "alerts.deliver_chunk"
RECONCILE = "alerts.reconcile"
EXPIRE = "alerts.expire"


def fanout(runtime: Runtime, version_id: str) -> int:
    """Split a version's recipients into chunks (once) and submit every unfinished chunk."""
    issued: tuple[str, str, int] | None = None
    with runtime.db.session() as session:
        version = session.get(AlertVersion, version_id)
        if version is None:
            log.error("fanout: no alert version %s", version_id)
            return 0
        if version.fanout_completed_at is not None:
            return version.recipients_targeted or 0
        if version.chunks_total is None:
            service.supersede_older(session, version)
            recipients = service.recipients_of(session, version)
            size = runtime.settings.fanout_chunk_size
            chunks = [recipients[i : i + size] for i in range(0, len(recipients), size)]
            # Only the first run to get here fixes the chunks; a concurrent run reuses them.
            claimed = session.execute(
                update(AlertVersion)
                .where(AlertVersion.id == version_id, AlertVersion.chunks_total.is_(None))
                .values(chunks_total=len(chunks), recipients_targeted=len(recipients))
            )
            if claimed.rowcount == 1:  # type: ignore[attr-defined]
                _insert_chunks(session, version_id, chunks)
                if not chunks:
                    version.fanout_completed_at = utcnow()
                issued = (version.status, version.msg_type, len(recipients))
    if issued is not None:
        # Counted once per version, after commit: only the run that fixed the chunks gets here.
        metrics.record_issued(*issued)
    with runtime.db.session() as session:
        pending = list(
            session.scalars(
                select(FanoutChunk.index)
                .where(FanoutChunk.alert_version_id == version_id, FanoutChunk.done_at.is_(None))
                .order_by(FanoutChunk.index)
            )
        )
        total = session.scalar(
            select(AlertVersion.recipients_targeted).where(AlertVersion.id == version_id)
        )
    for index in pending:
        runtime.tasks.submit(DELIVER_CHUNK, version_id=version_id, index=index)
    return int(total or 0)


def _insert_chunks(session: Any, version_id: str, chunks: list[list[str]]) -> None:
    if not chunks:
        return
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    now = utcnow()
    session.execute(
        insert(FanoutChunk)
        .values(
            [
                {
                    "alert_version_id": version_id,
                    "index": i,
                    "subscription_ids": chunk,
                    "submitted_at": now,
                }
                for i, chunk in enumerate(chunks)
            ]
        )
        .on_conflict_do_nothing(index_elements=["alert_version_id", "index"])
    )


def deliver_chunk(runtime: Runtime, version_id: str, index: int) -> int:
    """Record one chunk's deliveries on every channel, announce it, and mark it done."""
    with runtime.db.session() as session:
        chunk = session.scalar(
            select(FanoutChunk).where(
                FanoutChunk.alert_version_id == version_id, FanoutChunk.index == index
            )
        )
        if chunk is None or chunk.done_at is not None:
            return 0
        subscription_ids = list(chunk.subscription_ids)
        for channel in service.CHANNELS:
            service.record_deliveries(session, version_id, subscription_ids, channel)
        reachable = {
            channel: notifier.reachable(session, subscription_ids)
            for channel, notifier in runtime.notifiers.items()
        }
        for channel, ids in reachable.items():
            service.record_deliveries(session, version_id, ids, channel)
    announce(runtime, version_id, subscription_ids)
    for channel, ids in reachable.items():
        if ids:
            runtime.notifiers[channel].send(runtime, version_id, ids)
    if runtime.settings.fanout_chunk_pause_s:
        time.sleep(runtime.settings.fanout_chunk_pause_s)
    with runtime.db.session() as session:
        # Workers finishing the last chunks at once take turns on the version row; without the
        # lock, under READ COMMITTED each would count the other's chunk as not done, and
        # nobody would mark the fan-out complete.
        session.execute(
            select(AlertVersion.id).where(AlertVersion.id == version_id).with_for_update()
        )
        session.execute(
            update(FanoutChunk)
            .where(
                FanoutChunk.alert_version_id == version_id,
                FanoutChunk.index == index,
                FanoutChunk.done_at.is_(None),
            )
            .values(done_at=utcnow())
        )
        _complete_if_done(session, version_id)
    return len(subscription_ids)


def _complete_if_done(session: Any, version_id: str) -> bool:
    """Mark a version's fan-out complete once no chunk is left undone."""
    remaining = session.scalar(
        select(func.count())
        .select_from(FanoutChunk)
        .where(FanoutChunk.alert_version_id == version_id, FanoutChunk.done_at.is_(None))
    )
    if remaining:
        return False
    result = session.execute(
        update(AlertVersion)
        .where(AlertVersion.id == version_id, AlertVersion.fanout_completed_at.is_(None))
        .values(fanout_completed_at=utcnow())
    )
    return bool(result.rowcount)


def announce(runtime: Runtime, version_id: str, subscription_ids: list[str]) -> None:
    """Tell every live gateway a chunk is ready; if the bus is down, their sweep finds it."""
    try:
        runtime.bus.publish(
            events.ALERT_DELIVER, events.alert_deliver(version_id, subscription_ids)
        )
    except BusUnavailable:
        log.warning("bus unavailable: chunk of %s left for the delivery sweep", version_id)


def reconcile(runtime: Runtime) -> int:
    """Submit again the fan-out work of live versions left unfinished past the grace period."""
    grace = timedelta(seconds=runtime.settings.fanout_grace_s)
    now = utcnow()
    resubmitted = 0
    with runtime.db.session() as session:
        unfinished = session.execute(
            select(AlertVersion.id, AlertVersion.chunks_total).where(
                AlertVersion.fanout_completed_at.is_(None),
                AlertVersion.sent < now - grace,
                AlertVersion.expires > now,
            )
        ).all()
        work: list[tuple[str, int | None]] = []
        for version_id, chunks_total in unfinished:
            if chunks_total is None:
                work.append((version_id, None))
                continue
            if _complete_if_done(session, version_id):
                continue  # every chunk was done; only the completion mark was missing
            stale = session.scalars(
                select(FanoutChunk.index).where(
                    FanoutChunk.alert_version_id == version_id,
                    FanoutChunk.done_at.is_(None),
                    FanoutChunk.submitted_at < now - grace,
                )
            ).all()
            if stale:
                session.execute(
                    update(FanoutChunk)
                    .where(FanoutChunk.alert_version_id == version_id, FanoutChunk.index.in_(stale))
                    .values(submitted_at=now)
                )
            work.extend((version_id, index) for index in stale)
    for version_id, index in work:
        if index is None:
            runtime.tasks.submit(FANOUT, version_id=version_id)
        else:
            runtime.tasks.submit(DELIVER_CHUNK, version_id=version_id, index=index)
        resubmitted += 1
    if resubmitted:
        log.warning("reconcile: resubmitted %d unfinished fan-out tasks", resubmitted)
    return resubmitted


def expire(runtime: Runtime) -> list[str]:
    """Move alerts past their expiry out of the active list."""
    with runtime.db.session() as session:
        expired = service.expire_alerts(session)
    return expired


def register(runtime: Runtime) -> None:
    """Register the alerts tasks and bus handlers on a runtime."""
    runtime.registry.register(FANOUT, fanout)
    runtime.registry.register(DELIVER_CHUNK, deliver_chunk)
    runtime.registry.register(RECONCILE, reconcile, max_retries=0)
    runtime.registry.register(EXPIRE, expire, max_retries=0)
    runtime.registry.every(EXPIRE, runtime.settings.expiry_check_interval_s)
    runtime.registry.every(RECONCILE, runtime.settings.reconcile_interval_s)

    async def on_issued(payload: dict[str, Any]) -> None:
        # Raising (queue down) leaves the event unacknowledged on the bus, to be retried.
        runtime.tasks.submit(FANOUT, version_id=payload["version_id"])

    runtime.bus.subscribe(events.ALERT_ISSUED, on_issued, group="fanout")
