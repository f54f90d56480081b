"""The residents' WebSocket gateway: claims pending deliveries, sends them to devices."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict
from functools import partial
from typing import TYPE_CHECKING, Any

from shapely.geometry import shape
from sqlalchemy import select
from starlette.websockets import WebSocket, WebSocketDisconnect

import shelters
from alerts import events, receipts, service
from alerts.models import AlertVersion, Subscription
from kizuna import metrics
from kizuna.errors import KizunaError

if TYPE_CHECKING:
    from kizuna.runtime import Runtime

log = logging.getLogger(__name__)

HUB = "residents"
CHANNEL = "websocket"
POLICY_VIOLATION = 1008


class ResidentGateway:
    """Residents connected to this process; every API process runs one."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.hub = runtime.hub(HUB)

    def register(self) -> None:
        self.runtime.bus.subscribe(events.ALERT_DELIVER, self.on_deliver)

    async def on_deliver(self, payload: dict[str, Any]) -> None:
        local = [sid for sid in payload["subscription_ids"] if self.hub.is_connected(sid)]
        if local:
            await self.deliver(payload["version_id"], local)

    async def deliver(self, version_id: str, subscription_ids: list[str]) -> int:
        """Claim and send one version to those of `subscription_ids` connected here."""
        messages = await asyncio.to_thread(self._claim_and_render, version_id, subscription_ids)
        return await self._send_all(messages)

    def _claim_and_render(
        self, version_id: str, subscription_ids: list[str]
    ) -> list[tuple[str, str, dict[str, Any]]]:
        with self.runtime.db.session() as session:
            claimed = service.claim_pending(session, version_id, subscription_ids)
            if not claimed:
                return []
            version = session.get(AlertVersion, version_id)
            assert version is not None
            area = shape(version.area_geometry)
            subscriptions = session.scalars(
                select(Subscription).where(Subscription.id.in_(claimed))
            ).all()
            return [
                (sub.id, version_id, self._render(session, version, sub, area, replay=False))
                for sub in subscriptions
            ]

    @staticmethod
    def _render(
        session: Any, version: AlertVersion, sub: Subscription, area: Any, replay: bool
    ) -> dict[str, Any]:
        in_area = any(service.place_in_area(session, place, area) for place in sub.places)
        message = service.render_message(version, sub.languages, in_area=in_area, replay=replay)
        level = version.content.get("evacuation_level") or 0
        if level >= 3 and version.msg_type != "Cancel":
            # Where to go, worked out now (not at issue time): rooms fill as people arrive.
            message["shelters"] = [
                {
                    "place": place.label,
                    "lon": place.lon,
                    "lat": place.lat,
                    "nearest": shelters.nearest_with_room(
                        session, place.lon, place.lat, version.content.get("hazard")
                    ),
                }
                for place in sub.places
                if place.lon is not None and place.lat is not None
            ]
        return message

    async def _send_all(self, messages: list[tuple[str, str, dict[str, Any]]]) -> int:
        sent = 0
        for subscription_id, version_id, message in messages:
            # Queued but never written (the client was dropped as too slow, or left): pending
            # again, so the device gets it on reconnect or from the sweep.
            on_unsent = (
                partial(asyncio.to_thread, self._unclaim, version_id, subscription_id)
                if version_id
                else None
            )
            if await self.hub.send(subscription_id, message, on_unsent=on_unsent):
                sent += 1
                if version_id:  # a replay is not a delivery
                    metrics.record_delivery(CHANNEL, "sent")
                    metrics.observe_latency(CHANNEL, message["sent"])
                continue
            if version_id:
                metrics.record_delivery(CHANNEL, "retry")
                await asyncio.to_thread(self._unclaim, version_id, subscription_id)
        return sent

    def _unclaim(self, version_id: str, subscription_id: str) -> None:
        with self.runtime.db.session() as session:
            service.unclaim(session, version_id, subscription_id, "websocket", "client gone")

    async def sweep(self) -> int:
        """Send whatever is still pending for the residents connected here (missed events)."""
        connected = self.hub.keys()
        if not connected:
            return 0
        pending = await asyncio.to_thread(self._pending, connected)
        by_version: dict[str, list[str]] = defaultdict(list)
        for version_id, subscription_id in pending:
            by_version[version_id].append(subscription_id)
        sent = 0
        for version_id, subscription_ids in by_version.items():
            sent += await self.deliver(version_id, subscription_ids)
        return sent

    def _pending(self, subscription_ids: list[str]) -> list[tuple[str, str]]:
        with self.runtime.db.session() as session:
            return service.pending_versions_for(session, subscription_ids)

    async def sweep_forever(self) -> None:
        interval = self.runtime.settings.delivery_sweep_interval_s
        while True:
            await asyncio.sleep(interval)
            try:
                await self.sweep()
            except Exception:
                log.exception("delivery sweep failed")

    # -- one connection ---------------------------------------------------------------------

    async def serve(self, websocket: WebSocket, token: str | None) -> None:
        """Authenticate, catch up on what is active, then relay messages until the client leaves."""
        await websocket.accept()
        subscription_id = await asyncio.to_thread(self._authenticate, token)
        if subscription_id is None:
            # Accept first so the client sees the policy-violation code, not a bare HTTP 403.
            await websocket.close(code=POLICY_VIOLATION, reason="invalid subscription token")
            return
        # Live alerts queue from now on but go out after the hello.
        self.hub.add(subscription_id, websocket, held=True)
        try:
            await websocket.send_json({"type": "hello", "subscription_id": subscription_id})
            self.hub.release(subscription_id, websocket)
            await self._send_all(await asyncio.to_thread(self._catch_up, subscription_id))
            await self._receive_loop(websocket, subscription_id)
        except WebSocketDisconnect:
            pass
        finally:
            self.hub.remove(subscription_id, websocket)

    def _authenticate(self, token: str | None) -> str | None:
        with self.runtime.db.session() as session:
            try:
                return service.subscription_by_token(session, token).id
            except KizunaError:
                return None

    def _catch_up(self, subscription_id: str) -> list[tuple[str, str, dict[str, Any]]]:
        with self.runtime.db.session() as session:
            subscription = session.get(Subscription, subscription_id)
            if subscription is None:
                return []
            replays = service.catch_up(session, subscription)
            session.flush()
            pending = service.pending_versions_for(session, [subscription_id])
            messages: list[tuple[str, str, dict[str, Any]]] = []
            for version_id, _ in pending:
                if service.claim_pending(session, version_id, [subscription_id]):
                    version = session.get(AlertVersion, version_id)
                    assert version is not None
                    area = shape(version.area_geometry)
                    messages.append(
                        (
                            subscription_id,
                            version_id,
                            self._render(session, version, subscription, area, replay=False),
                        )
                    )
            for version, already_sent in replays:
                if already_sent:
                    area = shape(version.area_geometry)
                    # A replay is state sync for a reconnecting device, not a new delivery.
                    messages.append(
                        (
                            subscription_id,
                            "",
                            self._render(session, version, subscription, area, replay=True),
                        )
                    )
            messages.sort(key=lambda item: item[2]["sent"])
            return messages

    async def _receive_loop(self, websocket: WebSocket, subscription_id: str) -> None:
        while True:
            text = await websocket.receive_text()
            try:
                message = json.loads(text)
            except ValueError:
                await websocket.send_json(_error("invalid_json", "messages must be JSON"))
                continue
            if not isinstance(message, dict):
                await websocket.send_json(_error("invalid_message", "send a JSON object"))
                continue
            if "ack" in message:
                await websocket.send_json(
                    await asyncio.to_thread(self._acknowledge, subscription_id, message["ack"])
                )
            elif "received" in message:
                await websocket.send_json(
                    await asyncio.to_thread(self._receipt, subscription_id, message)
                )
            elif message.get("type") == "ping":
                await websocket.send_json({"type": "pong"})
            else:
                await websocket.send_json(
                    _error(
                        "unknown_message",
                        'expected {"ack": alert_id}, {"received": alert_id, "version": n}'
                        ' or {"type": "ping"}',
                    )
                )

    def _receipt(self, subscription_id: str, message: dict[str, Any]) -> dict[str, Any]:
        alert_id, version = message.get("received"), message.get("version")
        if not isinstance(alert_id, str) or len(alert_id) > 36:
            return _error("invalid_input", "received must be an alert id", field="received")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            return _error("invalid_input", "version must be a positive integer", field="version")
        with self.runtime.db.session() as session:
            try:
                recorded = receipts.record_live_receipt(
                    session, subscription_id, alert_id, version, CHANNEL
                )
            except KizunaError as exc:
                return {"type": "error", **exc.to_body()}
        return {"type": "received", "alert_id": alert_id, "version": version, "recorded": recorded}

    def _acknowledge(self, subscription_id: str, alert_id: Any) -> dict[str, Any]:
        if not isinstance(alert_id, str):
            return _error("invalid_input", "ack must be an alert id", field="ack")
        with self.runtime.db.session() as session:
            subscription = session.get(Subscription, subscription_id)
            if subscription is None:
                return _error("not_found", "subscription deleted")
            try:
                recorded = service.acknowledge(session, subscription, alert_id)
            except KizunaError as exc:
                return {"type": "error", **exc.to_body()}
        return {"type": "ack", "alert_id": alert_id, "recorded": recorded}


def _error(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    return {"type": "error", "error": {"code": code, "message": message, "field": field}}
