"""Transactional outbox: events are stored with the change, then a relay publishes them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kizuna.bus import BusUnavailable
from kizuna.db import utcnow
from kizuna.models import OutboxEvent

if TYPE_CHECKING:
    from kizuna.runtime import Runtime

log = logging.getLogger(__name__)


def emit(session: Session, topic: str, payload: dict[str, Any]) -> OutboxEvent:
    """Queue an event in the caller's transaction; it is published only if that commits."""
    event = OutboxEvent(topic=topic, payload=payload)
    session.add(event)
    session.info.setdefault("outbox", set()).add(topic)
    return event


class OutboxRelay:
    """Publishes committed outbox rows to the bus, oldest first, marking each once published."""

    def __init__(self, runtime: Runtime, batch_size: int = 200) -> None:
        self._runtime = runtime
        self._batch_size = batch_size
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def kick(self, *_topics: object) -> None:
        """Ask the relay to look now (thread-safe); it also polls on an interval."""
        if self._loop is not None and self._wake is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake.set)

    def publish_pending(self) -> int:
        """Publish one batch of unpublished events; returns how many went out."""
        published = 0
        db = self._runtime.db
        with db.session() as session:
            query = (
                select(OutboxEvent)
                .where(OutboxEvent.published_at.is_(None))
                .order_by(OutboxEvent.id)
                .limit(self._batch_size)
            )
            if db.dialect == "postgresql":
                # Several API processes relay at once; each row goes to one of them.
                query = query.with_for_update(skip_locked=True)
            for event in session.scalars(query):
                try:
                    self._runtime.bus.publish(event.topic, {**event.payload, "event_id": event.id})
                except BusUnavailable as exc:
                    event.attempts += 1
                    event.last_error = str(exc)[:500]
                    log.warning("outbox: bus unavailable, %s stays queued: %s", event.topic, exc)
                    break
                event.published_at = utcnow()
                published += 1
        return published

    async def run(self) -> None:
        """Relay until cancelled: on every kick, and every poll interval as a safety net."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        interval = self._runtime.settings.outbox_poll_interval_s
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=interval)
            self._wake.clear()
            try:
                while await asyncio.to_thread(self.publish_pending) >= self._batch_size:
                    pass
            except Exception:
                log.exception("outbox relay pass failed")
