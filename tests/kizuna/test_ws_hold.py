"""A held connection: messages for it queue, in order, and go out only once it is released, so a
snapshot or hello sent first is never overtaken by a change made while it was being read."""

from __future__ import annotations

import asyncio
import json
from typing import Any, cast

from starlette.websockets import WebSocket

from kizuna.ws import ConnectionHub


class RecordingSocket:
    """Stands in for the socket: the hub's writer only calls send_text."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send_text(self, text: str) -> None:
        self.sent.append(json.loads(text))


async def turns(count: int = 20) -> None:
    """Let the writer tasks run (they wait on nothing but the queue here)."""
    for _ in range(count):
        await asyncio.sleep(0)


async def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    hub = ConnectionHub(send_buffer=8)
    held, free = RecordingSocket(), RecordingSocket()
    hub.add("board", cast(WebSocket, held), held=True)
    hub.add("other", cast(WebSocket, free))
    for n in (1, 2):
        assert await hub.send("board", {"change": n})
    assert await hub.send("other", {"change": 1})
    await turns()
    before = list(held.sent)
    # What the handler sends itself first (the snapshot), then the queue goes out behind it.
    held.sent.append({"snapshot": True})
    hub.release("board", cast(WebSocket, held))
    await turns()
    return before, held.sent, free.sent


def test_a_held_connection_sends_nothing_until_released_then_everything_in_order() -> None:
    before, held, free = asyncio.run(scenario())
    assert before == []
    assert held == [{"snapshot": True}, {"change": 1}, {"change": 2}]
    assert free == [{"change": 1}]  # other connections are not held
