"""The event bus seam: an interface and the in-process implementation of the embedded default."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], Awaitable[None]]


class BusUnavailable(RuntimeError):
    """The bus cannot take events right now; the caller keeps them (outbox) and retries."""


class Bus(Protocol):
    """Publish events by topic; handlers run on the owning process's event loop.

    `group=None` subscribes this process to every event of the topic (live fan-out to every API
    process); a named group shares the topic's events among its members (each handled once).
    """

    def subscribe(self, topic: str, handler: Handler, group: str | None = None) -> None: ...

    def publish(self, topic: str, payload: dict[str, Any]) -> None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class InProcessBus:
    """Events stay in this process: handlers are scheduled on the loop that started the bus."""

    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = defaultdict(list)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: set[asyncio.Task[None]] = set()

    def subscribe(self, topic: str, handler: Handler, group: str | None = None) -> None:
        self._handlers[topic].append(handler)

    def publish(self, topic: str, payload: dict[str, Any]) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            raise BusUnavailable("the in-process bus is not running")
        loop.call_soon_threadsafe(self._dispatch, topic, payload)

    def _dispatch(self, topic: str, payload: dict[str, Any]) -> None:
        for handler in self._handlers.get(topic, []):
            task = asyncio.ensure_future(self._run(topic, handler, payload))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    @staticmethod
    async def _run(topic: str, handler: Handler, payload: dict[str, Any]) -> None:
        try:
            await handler(payload)
        except Exception:
            log.exception("bus handler for %s failed", topic)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()

    async def stop(self) -> None:
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
        self._loop = None
