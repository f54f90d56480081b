"""The live shelter board: every `shelter.updated` event goes to the boards of its municipality."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from starlette.websockets import WebSocket, WebSocketDisconnect

from gis import normalize_municipality_code
from shelters import events
from shelters.models import Shelter
from shelters.service import shelter_out

if TYPE_CHECKING:
    from kizuna.runtime import Runtime

HUB = "shelter-boards"


class ShelterBoard:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.hub = runtime.hub(HUB)

    def register(self) -> None:
        self.runtime.bus.subscribe(events.SHELTER_UPDATED, self.on_updated)

    async def on_updated(self, payload: dict[str, Any]) -> None:
        payload = {k: v for k, v in payload.items() if k != "event_id"}
        await self.hub.send(payload["municipality_code"], {"type": "shelter", "shelter": payload})

    async def serve(self, websocket: WebSocket, municipality: str | None) -> None:
        """Send the municipality's shelters now, then every change as it happens."""
        await websocket.accept()
        try:
            code = normalize_municipality_code(municipality or "")
        except ValueError as exc:
            await websocket.close(code=1008, reason=str(exc)[:120])
            return
        # Changes queue from now on, but go out only after the snapshot: one made after the
        # snapshot was read must not arrive before it and be overwritten.
        self.hub.add(code, websocket, held=True)
        try:
            shelters = await asyncio.to_thread(self._snapshot, code)
            await websocket.send_json(
                {"type": "snapshot", "municipality_code": code, "shelters": shelters}
            )
            self.hub.release(code, websocket)
            while True:
                await websocket.receive_text()  # the board only listens; pings keep it alive
        except WebSocketDisconnect:
            pass
        finally:
            self.hub.remove(code, websocket)

    def _snapshot(self, code: str) -> list[dict[str, Any]]:
        with self.runtime.db.session() as session:
            return [
                shelter_out(s)
                for s in session.scalars(
                    select(Shelter).where(Shelter.municipality_code == code).order_by(Shelter.name)
                )
            ]
