"""Live WebSocket connections held by this process, keyed by who they belong to.

Each connection has a bounded outgoing queue drained by its own writer task, so a slow client
never delays the others: `send` only enqueues. A client whose queue is full (it reads slower than
messages arrive) or whose writer is stuck on one message past the send timeout is dropped with
close code 1013 ("try again later"); the device reconnects and catches up. Messages it had
accepted but never written are handed back through their `on_unsent` callback (the residents'
gateway puts the delivery back to pending), so a drop never loses a message.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import struct
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.websockets import WebSocket

log = logging.getLogger(__name__)

TRY_AGAIN_LATER = 1013
DEFAULT_SEND_BUFFER = 64
DEFAULT_SEND_TIMEOUT_S = 10.0
YIELDS_BEFORE_DROP = 3
# How long a dropped client gets to take the close frame before its TCP connection is cut.
CLOSE_GRACE_S = 2.0

OnUnsent = Callable[[], Awaitable[Any]]


class _Envelope:
    """One message for one key, shared by that key's connections (one per device)."""

    __slots__ = ("holders", "on_unsent", "text", "written")

    def __init__(self, text: str, on_unsent: OnUnsent | None) -> None:
        self.text = text
        self.on_unsent = on_unsent
        self.holders = 0  # connections that accepted it and have not written or dropped it
        self.written = False


class _Connection:
    """One device: its socket, bounded queue and writer task."""

    def __init__(self, hub: ConnectionHub, key: str, websocket: WebSocket, held: bool) -> None:
        self.hub = hub
        self.key = key
        self.websocket = websocket
        self.queue: asyncio.Queue[_Envelope] = asyncio.Queue(maxsize=hub.send_buffer)
        self.queued_bytes = 0
        self.in_flight: _Envelope | None = None
        self.closed = False
        self.released = asyncio.Event()
        if not held:
            self.released.set()
        self.writer = asyncio.create_task(self._write(), name=f"ws-writer:{key}")

    async def _write(self) -> None:
        await self.released.wait()
        while True:
            envelope = await self.queue.get()
            self.queued_bytes -= len(envelope.text)
            self.in_flight = envelope
            try:
                # A timeout scope, not wait_for: no extra task, so a writable socket drains the
                # whole queue in one turn of the loop.
                async with asyncio.timeout(self.hub.send_timeout_s):
                    await self.websocket.send_text(envelope.text)
            except TimeoutError:
                self.hub.dropped_stuck += 1
                log.warning(
                    "dropping a connection of %s: one message unsent after %.1fs",
                    self.key,
                    self.hub.send_timeout_s,
                )
                self.hub._drop(self, "send timed out")
                return
            except Exception:
                log.info("dropping a connection of %s that failed to send", self.key)
                self.hub._drop(self, None)
                return
            self.in_flight = None
            envelope.written = True
            envelope.holders -= 1

    def offer(self, envelope: _Envelope) -> bool:
        """Queue without waiting; False when the queue is full (the client is too slow)."""
        try:
            self.queue.put_nowait(envelope)
        except asyncio.QueueFull:
            return False
        envelope.holders += 1
        self.queued_bytes += len(envelope.text)
        self.hub.peak_queue = max(self.hub.peak_queue, self.queue.qsize())
        return True

    def abandon(self) -> list[_Envelope]:
        """Stop the writer; the messages it will never write (the one in flight counts)."""
        self.closed = True
        if self.writer is not asyncio.current_task():
            self.writer.cancel()
        left: list[_Envelope] = []
        if self.in_flight is not None:
            # Maybe partly written: sending it again on reconnect beats losing it.
            left.append(self.in_flight)
            self.in_flight = None
        while not self.queue.empty():
            left.append(self.queue.get_nowait())
        self.queued_bytes = 0
        return left


class ConnectionHub:
    """Connections by key (a subscription id, a user id); one key may have several devices."""

    def __init__(
        self,
        send_buffer: int = DEFAULT_SEND_BUFFER,
        send_timeout_s: float = DEFAULT_SEND_TIMEOUT_S,
    ) -> None:
        self.send_buffer = send_buffer
        self.send_timeout_s = send_timeout_s
        self._connections: dict[str, dict[WebSocket, _Connection]] = {}
        self._background: set[asyncio.Task[Any]] = set()
        # The event loop the connections live on, for callers in other threads (tests, tools).
        self.loop: asyncio.AbstractEventLoop | None = None
        # Read by metrics: clients dropped for a full queue, for a stuck write; deepest queue seen.
        self.dropped_slow = 0
        self.dropped_stuck = 0
        self.peak_queue = 0

    @classmethod
    def from_settings(cls, settings: Any) -> ConnectionHub:
        """A hub with the buffer and timeout of `settings` (kizuna.settings.Settings)."""
        return cls(settings.ws_send_buffer, settings.ws_send_timeout_s)

    def add(self, key: str, websocket: WebSocket, held: bool = False) -> None:
        """Hold a connection (call from the event loop: it starts the writer task). `held`:
        messages queue but wait for `release`, so a snapshot sent first is not overtaken by
        a change made after it was read."""
        self.loop = asyncio.get_running_loop()
        connection = _Connection(self, key, websocket, held)
        self._connections.setdefault(key, {})[websocket] = connection

    def release(self, key: str, websocket: WebSocket) -> None:
        """Let a held connection's queued messages go."""
        connection = self._connections.get(key, {}).get(websocket)
        if connection is not None:
            connection.released.set()

    def remove(self, key: str, websocket: WebSocket) -> None:
        """Forget a connection that went away; what it never wrote is handed back."""
        connection = self._connections.get(key, {}).get(websocket)
        if connection is not None:
            self._forget(connection)

    def keys(self) -> list[str]:
        return list(self._connections)

    def is_connected(self, key: str) -> bool:
        return key in self._connections

    def __len__(self) -> int:
        return sum(len(sockets) for sockets in self._connections.values())

    async def send(
        self, key: str, message: dict[str, Any], on_unsent: OnUnsent | None = None
    ) -> bool:
        """Queue `message` for every connection of `key`; True if at least one accepted it.

        Never waits on the network. `on_unsent` is awaited later if every connection that
        accepted the message went away before writing it.
        """
        connections = list(self._connections.get(key, {}).values())
        if not connections:
            return False
        # The same encoding as starlette's send_json, done once for all devices of the key.
        envelope = _Envelope(
            json.dumps(message, separators=(",", ":"), ensure_ascii=False), on_unsent
        )
        accepted = False
        for connection in connections:
            if await self._offer(connection, envelope):
                accepted = True
        return accepted

    async def _offer(self, connection: _Connection, envelope: _Envelope) -> bool:
        if connection.offer(envelope):
            return True
        # Full may only mean its writer has not had a turn yet (a catch-up burst): give it a
        # few turns of the loop, which never wait on the network. Still full = too slow.
        for _ in range(YIELDS_BEFORE_DROP):
            await asyncio.sleep(0)
            if connection.closed:
                return False
            if connection.offer(envelope):
                return True
        self.dropped_slow += 1
        log.warning(
            "dropping a slow connection of %s: %d messages queued",
            connection.key,
            self.send_buffer,
        )
        self._drop(connection, "too slow: send buffer full")
        return False

    def stats(self) -> dict[str, int]:
        """Connections, messages and bytes queued now, drops so far, deepest queue seen."""
        connections = [c for sockets in self._connections.values() for c in sockets.values()]
        return {
            "connections": len(connections),
            "queued_messages": sum(c.queue.qsize() for c in connections),
            "queued_bytes": sum(c.queued_bytes for c in connections),
            "dropped_slow": self.dropped_slow,
            "dropped_stuck": self.dropped_stuck,
            "peak_queue": self.peak_queue,
        }

    async def settle(self) -> None:
        """Wait for pending closes and `on_unsent` callbacks (tests and shutdown)."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    # -- internals ------------------------------------------------------------------------

    def _forget(self, connection: _Connection) -> None:
        sockets = self._connections.get(connection.key)
        if sockets is not None and sockets.get(connection.websocket) is connection:
            del sockets[connection.websocket]
            if not sockets:
                del self._connections[connection.key]
        if connection.closed:
            return
        for envelope in connection.abandon():
            envelope.holders -= 1
            if envelope.holders == 0 and not envelope.written and envelope.on_unsent is not None:
                self._spawn(_hand_back(connection.key, envelope.on_unsent))

    def _drop(self, connection: _Connection, reason: str | None) -> None:
        """Forget the connection now and close it in the background (code 1013 with reason)."""
        already = connection.closed
        self._forget(connection)
        if not already and reason is not None:
            self._spawn(self._close(connection.websocket, reason))

    async def _close(self, websocket: WebSocket, reason: str) -> None:
        message = {"type": "websocket.close", "code": TRY_AGAIN_LATER, "reason": reason}
        try:
            # The raw ASGI send, not websocket.close(): the handler still reading this socket
            # then sees an ordinary disconnect. A client that reads nothing never takes the
            # close frame either, hence the bound.
            async with asyncio.timeout(min(self.send_timeout_s, CLOSE_GRACE_S)):
                await websocket._send(message)
            return
        except Exception:
            pass
        # Cut the connection so its buffers and handler go now, not at a TCP timeout.
        transport = _transport_of(websocket._send)
        if transport is not None:
            _reset_on_close(transport)
            transport.abort()

    def _spawn(self, coroutine: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)


async def _hand_back(key: str, on_unsent: OnUnsent) -> None:
    try:
        await on_unsent()
    except Exception:
        log.exception("handing back an unsent message of %s failed", key)


def _reset_on_close(transport: Any) -> None:
    # A plain close queues the FIN behind megabytes the client will not read, and the kernel
    # keeps them for minutes (FIN-WAIT-1). Linger 0 makes the close a reset: they go at once.
    sock = transport.get_extra_info("socket")
    if sock is None:
        return
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        log.debug("could not set SO_LINGER on a dropped connection", exc_info=True)


def _transport_of(send: Any, depth: int = 6) -> Any:
    """The server's transport behind an ASGI `send`: uvicorn's protocol owns it, possibly under
    middleware wrappers (closures). None when not found (another server)."""
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is not None and callable(getattr(transport, "abort", None)):
        return transport
    if depth == 0:
        return None
    for cell in getattr(send, "__closure__", None) or ():
        try:
            inner = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        if callable(inner):
            found = _transport_of(inner, depth - 1)
            if found is not None:
                return found
    return None
