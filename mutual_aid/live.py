"""The requesters' WebSocket gateway: each step of their request (claimed, started, done…)."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from kizuna.errors import KizunaError
from mutual_aid import service

if TYPE_CHECKING:
    from kizuna.runtime import Runtime

HUB = "aid-requesters"
CACHE_KEY = "aid.gateway"
POLICY_VIOLATION = 1008


class AidGateway:
    """Requesters connected to this process, keyed `sub:<subscription id>` or `user:<user id>`."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.hub = runtime.hub(HUB)

    async def on_changed(self, payload: dict[str, Any]) -> None:
        """Tell the requester (resident or the staff member who asked for them)."""
        message = {
            "type": "aid",
            "event": payload["event"],
            "request_id": payload["request_id"],
            "state": payload["state"],
            "at": payload.get("at"),
        }
        if payload.get("subscription_id"):
            await self.hub.send(f"sub:{payload['subscription_id']}", message)
        if payload.get("created_by"):
            await self.hub.send(f"user:{payload['created_by']}", message)

    def _authenticate(self, token: str | None) -> str | None:
        with self.runtime.db.session() as session:
            try:
                caller = service.resolve_caller(session, self.runtime.settings, token)
            except KizunaError:
                return None
        if caller.subscription_id is not None:
            return f"sub:{caller.subscription_id}"
        assert caller.user is not None
        return f"user:{caller.user.id}"

    async def serve(self, websocket: WebSocket, token: str | None) -> None:
        """Authenticate, then relay the caller's request events until they leave."""
        await websocket.accept()
        key = await asyncio.to_thread(self._authenticate, token)
        if key is None:
            # Accept first so the client sees the policy-violation code, not a bare HTTP 403.
            await websocket.close(code=POLICY_VIOLATION, reason="invalid token")
            return
        # Request events queue from now on but go out after the hello.
        self.hub.add(key, websocket, held=True)
        try:
            await websocket.send_json({"type": "hello"})
            self.hub.release(key, websocket)
            while True:
                text = await websocket.receive_text()
                try:
                    message = json.loads(text)
                except ValueError:
                    message = None
                if isinstance(message, dict) and message.get("type") == "ping":
                    await websocket.send_json({"type": "pong"})
        except WebSocketDisconnect:
            pass
        finally:
            self.hub.remove(key, websocket)
