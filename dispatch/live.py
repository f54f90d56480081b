"""The responders' WebSocket gateway: offers arrive live, and are withdrawn live when full."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from dispatch import events, service
from kizuna.auth import user_from_token
from kizuna.errors import KizunaError
from kizuna.models import User

if TYPE_CHECKING:
    from kizuna.runtime import Runtime

log = logging.getLogger(__name__)

HUB = "responders"
POLICY_VIOLATION = 1008


class ResponderGateway:
    """Responders connected to this process, keyed by user id; every API process runs one."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.hub = runtime.hub(HUB)

    def register(self) -> None:
        # group=None: every API process hears every event and serves its own connections.
        self.runtime.bus.subscribe(events.OFFERED, self.on_offered)
        self.runtime.bus.subscribe(events.WITHDRAWN, self.on_withdrawn)

    async def on_offered(self, payload: dict[str, Any]) -> None:
        for item in payload["offers"]:
            if self.hub.is_connected(item["responder_id"]):
                await self.hub.send(item["responder_id"], {"type": "offer", **item["offer"]})

    async def on_withdrawn(self, payload: dict[str, Any]) -> None:
        message = {
            "type": "withdrawn",
            "dispatch_id": payload["dispatch_id"],
            "reason": payload["reason"],
        }
        for responder_id in payload["responder_ids"]:
            if self.hub.is_connected(responder_id):
                await self.hub.send(responder_id, message)

    async def serve(self, websocket: WebSocket, token: str | None) -> None:
        """Authenticate by JWT, send the open offers, then every offer and withdrawal live."""
        await websocket.accept()
        try:
            user_id = await asyncio.to_thread(self._user_id, token or "")
        except KizunaError as exc:
            await websocket.close(code=POLICY_VIOLATION, reason=exc.message[:120])
            return
        # Offers and withdrawals queue from now on but go out after the hello, so none made
        # while its list was read is missed or arrives before it.
        self.hub.add(user_id, websocket, held=True)
        try:
            # Offers made while the phone was away are not lost: they come with the hello.
            offers = await asyncio.to_thread(self._open_offers, user_id)
            await websocket.send_json({"type": "hello", "user_id": user_id, "offers": offers})
            self.hub.release(user_id, websocket)
            while True:
                await websocket.receive_text()  # the client only listens; pings keep it alive
        except WebSocketDisconnect:
            pass
        finally:
            self.hub.remove(user_id, websocket)

    def _user_id(self, token: str) -> str:
        with self.runtime.db.session() as session:
            user = user_from_token(session, self.runtime.settings, token)
            service.require_responder(user)
            return user.id

    def _open_offers(self, user_id: str) -> list[dict[str, Any]]:
        with self.runtime.db.session() as session:
            user = session.get(User, user_id)
            return service.open_offers(session, user) if user is not None else []
