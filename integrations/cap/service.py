"""CAP decisions: import messages through the alerts seam, export any version, the public feed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from alerts import ImportResult, import_message
from alerts.models import Alert, AlertVersion
from alerts.service import get_alert
from integrations.cap.mapping import alert_from_content, imported_alert, to_incoming
from integrations.cap.model import CapAlert
from integrations.cap.parse import ParsedMessage, read_messages
from integrations.cap.render import alert_element, render_alert
from integrations.cap.xmldoc import cap_schema
from kizuna.areas import describe_area
from kizuna.errors import NotFound
from kizuna.models import Municipality, User
from kizuna.settings import Settings


@dataclass(frozen=True)
class Imported:
    """One CAP message of a request and what became of it."""

    message: ParsedMessage
    result: ImportResult

    def as_dict(self) -> dict[str, Any]:
        return {
            "identifier": self.message.alert.identifier,
            "sender": self.message.alert.sender,
            "msg_type": self.message.alert.msg_type,
            "alert_id": self.result.alert_id,
            "version": self.result.version,
            "outcome": self.result.outcome,
            "recipients": self.result.recipients,
            "signature": "verified" if self.message.signature else "none",
        }


def import_cap(
    session: Session,
    settings: Settings,
    actor: User,
    data: bytes,
    *,
    trusted: bool = False,
    base_dir: Path | None = None,
) -> list[Imported]:
    """Import every CAP alert in `data` (a message, feed, EDXL-DE or <alerts> list).

    Everything is checked before anything is stored, so one bad message refuses the lot. A
    message is issued at once when `trusted` (an operator's say-so) or when its sender is in
    settings.cap_trusted_senders; otherwise it waits as a draft for an officer.
    """
    messages = read_messages(data, settings.max_xml_bytes, base_dir)

    def known(code: str) -> bool:
        return session.get(Municipality, code) is not None

    incoming = [(message, to_incoming(message, known)) for message in messages]
    imported: list[Imported] = []
    for message, translated in incoming:
        issue = trusted or message.alert.sender in settings.cap_trusted_senders
        result = import_message(session, settings, actor, translated, issue)
        imported.append(Imported(message, result))
    return imported


def _area_desc(session: Session, content: dict[str, Any]) -> str | None:
    """CAP <areaDesc> naming the municipalities and districts the area was given as, if any."""
    area = content.get("area") or {}
    return (
        describe_area(
            session,
            list(area.get("municipality_codes") or []),
            list(area.get("district_ids") or []),
        )
        or None
    )


def _municipality_names(session: Session, codes: list[str]) -> dict[str, str]:
    names: dict[str, str] = {}
    for code in codes:
        municipality = session.get(Municipality, code)
        if municipality is not None:
            names[code] = municipality.name
    return names


def _readable_alert(session: Session, viewer: User | None, alert_id: str) -> Alert:
    if viewer is not None:
        return get_alert(session, viewer, alert_id)
    alert = session.get(Alert, alert_id)
    # Without a login only what was issued is public, like any public CAP feed; drafts never.
    if alert is None or alert.state == "draft" or not alert.versions:
        raise NotFound(f"no alert {alert_id}")
    return alert


def _version(alert: Alert, number: int | None) -> AlertVersion:
    if number is None:
        return alert.versions[-1]
    for version in alert.versions:
        if version.version == number:
            return version
    raise NotFound(
        f"alert {alert.id} has versions 1–{alert.current_version}, not {number}", field="version"
    )


def cap_message(
    session: Session, settings: Settings, viewer: User | None, alert_id: str, number: int | None
) -> CapAlert:
    """The CAP message of an alert's version (the current one by default) or of its draft.

    Alerts imported from CAP give back the message as it came; our own are built from content.
    """
    alert = _readable_alert(session, viewer, alert_id)
    sender_names = _municipality_names(session, [alert.municipality_code])
    sender_name = sender_names.get(alert.municipality_code, alert.municipality_code)
    if alert.state == "draft" or not alert.versions:
        if number is not None:
            raise NotFound(f"alert {alert.id} is a draft: it has no version {number}", "version")
        original = imported_alert(alert.origin)
        if original is not None:
            return original
        content = alert.draft
        return alert_from_content(
            identifier=f"urn:kizuna:{alert.municipality_code}:{alert.id}:draft",
            sender=f"{alert.municipality_code}@{settings.cap_sender_domain}",
            sent=alert.updated_at,
            status=alert.status,
            msg_type="Alert",
            references=[],
            content=content,
            expires=content.get("expires"),
            sender_name=sender_name,
            municipality_names=_municipality_names(
                session, list((content.get("area") or {}).get("municipality_codes") or [])
            ),
            area_desc=_area_desc(session, content),
        )
    version = _version(alert, number)
    original = imported_alert(version.origin)
    if original is not None:
        return original
    content = version.content
    return alert_from_content(
        identifier=version.identifier,
        sender=version.sender,
        sent=version.sent,
        status=version.status,
        msg_type=version.msg_type,
        references=list(version.references),
        content=content,
        expires=version.expires,
        sender_name=sender_name,
        municipality_names=_municipality_names(
            session, list((content.get("area") or {}).get("municipality_codes") or [])
        ),
        area_desc=_area_desc(session, content),
    )


def export_cap(
    session: Session, settings: Settings, viewer: User | None, alert_id: str, number: int | None
) -> bytes:
    """CAP 1.2 XML of an alert's version, checked against the schema before it leaves."""
    message = cap_message(session, settings, viewer, alert_id, number)
    schema = cap_schema()
    if not schema.validate(alert_element(message)):
        # Our own bug, not the caller's: never hand out CAP that the schema refuses.
        raise RuntimeError(f"exported CAP for {alert_id} is not valid: {schema.error_log[0]}")
    return render_alert(message)
