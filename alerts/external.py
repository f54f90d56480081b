"""Alerts from other systems (CAP, JMA, L-Alert): idempotent import, references resolved."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts import service
from alerts.models import Alert, AlertVersion, ExternalMessage
from gis import circle_polygon, normalize_municipality_code
from kizuna import audit
from kizuna.areas import municipality_geometry
from kizuna.db import new_id, utcnow
from kizuna.errors import Forbidden, InvalidInput
from kizuna.models import Municipality, User
from kizuna.settings import Settings

Outcome = Literal["draft", "issued", "updated", "cancelled", "duplicate"]
NO_MUNICIPALITY = "000000"  # a foreign message that names no municipality of ours
DEFAULT_LIFETIME = timedelta(hours=24)


@dataclass
class IncomingMessage:
    """A message from another system, translated to our alert shape by an integration.

    `content` has the keys of an alert body (event, category, severity, urgency, certainty,
    evacuation_level, onset, expires, info[...], area{geometry, circles, municipality_codes});
    `payload` is whatever the format needs to export the message again unchanged.
    """

    source_format: str
    identifier: str
    sender: str
    sent: datetime
    status: str
    msg_type: str
    content: dict[str, Any]
    references: list[str] = field(default_factory=list)
    scope: str = "Public"
    municipality_code: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.sender},{self.identifier}"

    def origin(self) -> dict[str, Any]:
        return {
            "format": self.source_format,
            "identifier": self.identifier,
            "sender": self.sender,
            "sent": self.sent.isoformat(),
            "status": self.status,
            "msg_type": self.msg_type,
            "scope": self.scope,
            "references": self.references,
            "payload": self.payload,
        }


@dataclass(frozen=True)
class ImportResult:
    alert_id: str
    version: int | None
    outcome: Outcome
    recipients: int = 0


def system_user(session: Session, name: str) -> User:
    """The account that acts for an integration (it cannot log in)."""
    username = f"system-{name}"
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        user = User(
            id=new_id(),
            username=username,
            display_name=f"{name} integration",
            password_hash="!",
            role="admin",
            municipality_codes=[],
            active=False,
        )
        session.add(user)
        session.flush()
    return user


def message_area(session: Session, content: dict[str, Any]) -> BaseGeometry:
    """The union of what a message's area names that we can place; empty if only described."""
    area = content.get("area") or {}
    parts: list[BaseGeometry] = []
    if area.get("geometry"):
        parts.append(shape(area["geometry"]))
    for circle in area.get("circles") or []:
        parts.append(circle_polygon(circle["lon"], circle["lat"], max(circle["radius_km"], 0.01)))
    for code in area.get("municipality_codes") or []:
        municipality = session.get(Municipality, code)
        if municipality is not None:
            parts.append(municipality_geometry(municipality))
    if not parts:
        return shapely.GeometryCollection()
    return shapely.union_all(parts)


def _normalized_content(message: IncomingMessage) -> dict[str, Any]:
    content = dict(message.content)
    if not content.get("expires"):
        content["expires"] = (message.sent + DEFAULT_LIFETIME).isoformat()
    content.setdefault("status", message.status)
    content.setdefault("area", {})
    content.setdefault("info", [])
    return content


def _referenced_alert(session: Session, references: list[str]) -> Alert | None:
    """The newest alert any reference names: by an earlier import, or by our own identifier."""
    for reference in reversed(references):
        parts = reference.split(",")
        if len(parts) < 2:
            continue
        sender, identifier = parts[0].strip(), parts[1].strip()
        known = session.scalar(
            select(ExternalMessage).where(ExternalMessage.key == f"{sender},{identifier}")
        )
        if known is not None:
            return session.get(Alert, known.alert_id)
        ours = session.scalar(select(AlertVersion).where(AlertVersion.identifier == identifier))
        if ours is not None:
            return session.get(Alert, ours.alert_id)
    return None


def import_message(
    session: Session,
    settings: Settings,
    actor: User,
    message: IncomingMessage,
    trusted: bool,
) -> ImportResult:
    """Store an external message as an alert: a draft for review, or issued when `trusted`.

    The same (sender, identifier) twice changes nothing; an Update or Cancel whose references
    name an alert we hold changes that alert (when trusted) instead of making a new one.
    """
    # A sender names itself inside the message: only people who may issue alerts themselves
    # (officers, admins, and the integrations' system accounts) can have it trusted.
    trusted = trusted and actor.role in ("officer", "admin")
    if message.msg_type not in ("Alert", "Update", "Cancel"):
        raise InvalidInput(
            f"msgType {message.msg_type} carries no alert to import", field="msgType"
        )
    existing = session.scalar(select(ExternalMessage).where(ExternalMessage.key == message.key))
    if existing is not None:
        alert = session.get(Alert, existing.alert_id)
        return ImportResult(
            existing.alert_id, alert.current_version if alert else None, "duplicate"
        )
    content = _normalized_content(message)
    area = message_area(session, content)
    origin = message.origin()
    target = _referenced_alert(session, message.references)
    code = message.municipality_code
    if code is not None:
        code = normalize_municipality_code(code)
    home = code or (actor.municipality_codes or [NO_MUNICIPALITY])[0]
    if trusted and actor.role != "admin":
        changes = target if message.msg_type in ("Update", "Cancel") else None
        trusted = _officer_may_trust(session, settings, actor, changes, home, area)
    if (
        trusted
        and target is not None
        and message.msg_type in ("Update", "Cancel")
        and service.is_active(target)
    ):
        version = service._write_version(
            session, settings, actor, target, message.msg_type, content, area, origin=origin
        )
        if message.msg_type == "Cancel":
            target.state = "cancelled"
        recipients = len(service.recipients_of(session, version))
        version.recipients_targeted = recipients
        outcome: Outcome = "cancelled" if message.msg_type == "Cancel" else "updated"
        _remember(session, message, target.id, version.id, outcome, actor)
        return ImportResult(target.id, version.version, outcome, recipients)

    alert = Alert(
        id=new_id(),
        municipality_code=home,
        state="draft",
        status=message.status if message.status in ("Actual", "Exercise", "Test") else "Test",
        current_version=0,
        draft=content,
        expires=datetime.fromisoformat(content["expires"]),
        created_by=actor.id,
        origin=origin,
    )
    session.add(alert)
    session.flush()
    if not trusted or alert.expires <= utcnow() or message.msg_type == "Cancel":
        _remember(session, message, alert.id, None, "draft", actor)
        return ImportResult(alert.id, None, "draft")
    alert.state = "issued"
    version = service._write_version(
        session, settings, actor, alert, message.msg_type, content, area, origin=origin
    )
    recipients = len(service.target_subscriptions(session, area, alert.status).subscription_ids)
    version.recipients_targeted = recipients
    _remember(session, message, alert.id, version.id, "issued", actor)
    return ImportResult(alert.id, version.version, "issued", recipients)


def _officer_may_trust(
    session: Session,
    settings: Settings,
    actor: User,
    target: Alert | None,
    home: str,
    area: BaseGeometry,
) -> bool:
    """A sender names itself inside the message, so trust reaches no further than the importing
    officer's own authority: the alert changed (or made) and its area are of their cities."""
    own = set(actor.municipality_codes)
    if (target.municipality_code if target is not None else home) not in own:
        return False
    if area.is_empty:
        return True
    try:
        service.check_area_allowed(
            session, settings, actor, service.ResolvedArea(geometry=area, municipality_codes=[])
        )
    except Forbidden:
        return False
    return True


def _remember(
    session: Session,
    message: IncomingMessage,
    alert_id: str,
    version_id: str | None,
    outcome: str,
    actor: User,
) -> None:
    # The integrations' system accounts (`system-jma`) are recorded as `system:<format>`.
    system = actor.username.startswith("system-")
    audit.record(
        session,
        actor=f"system:{message.source_format}" if system else actor,
        action="alert.import",
        subject=alert_id,
        format=message.source_format,
        sender=message.sender,
        identifier=message.identifier,
        msg_type=message.msg_type,
        outcome=outcome,
    )
    session.add(
        ExternalMessage(
            key=message.key,
            source_format=message.source_format,
            alert_id=alert_id,
            alert_version_id=version_id,
            outcome=outcome,
        )
    )
    session.flush()
