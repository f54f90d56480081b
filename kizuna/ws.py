"""Live WebSocket connections held by this process, keyed by who they belong to."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from typing import Any

from starlette.websockets import WebSocket

log = logging.getLogger(__name__)


class ConnectionHub:
    """Connections by key (a subscription id, a user id); one key may have several devices."""

    def __init__(self) -> None:
        self._connections: dict[str, set[WebSocket]] = defaultdict(set)
        self._lock = asyncio.Lock()

    def add(self, key: str, websocket: WebSocket) -> None:
        self._connections[key].add(websocket)

    def remove(self, key: str, websocket: WebSocket) -> None:
        sockets = self._connections.get(key)
        if sockets is None:
            return
        sockets.discard(websocket)
        if not sockets:
            del self._connections[key]

    def keys(self) -> list[str]:
        return list(self._connections)

    def is_connected(self, key: str) -> bool:
        return key in self._connections

    def __len__(self) -> int:
        return sum(len(sockets) for sockets in self._connections.values())

    async def send(self, key: str, message: dict[str, Any]) -> bool:
        """Send to every connection of `key`; True if at least one took it."""
        delivered = False
        for websocket in list(self._connections.get(key, ())):
            try:
                await websocket.send_json(message)
                delivered = True
            except Exception:
                log.info("dropping a connection of %s that failed to send", key)
                self.remove(key, websocket)
        return delivered
