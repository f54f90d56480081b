"""A factory of small CAP 1.2 messages for tests that must run without the shared data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from xml.sax.saxutils import escape

from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from kizuna.models import User

TRUSTED_SENDER = "bousai@trusted.example.jp"
CAP12 = "urn:oasis:names:tc:emergency:cap:1.2"
# Inside the west half of city A (139.0–139.05 E, 35.0–35.1 N), in CAP's lat,lon order.
POLYGON = "35.01,139.01 35.01,139.04 35.09,139.04 35.09,139.01 35.01,139.01"


def cap_time(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


def area_xml(
    polygons: list[str] | None = None,
    circles: list[str] | None = None,
    geocodes: list[tuple[str, str]] | None = None,
    desc: str = "Atown west",
) -> str:
    """One <area>; polygons and circles are CAP text ("lat,lon ...", "lat,lon radius")."""
    parts = [f"<areaDesc>{escape(desc)}</areaDesc>"]
    parts += [f"<polygon>{p}</polygon>" for p in (POLYGON,) if polygons is None]
    parts += [f"<polygon>{p}</polygon>" for p in polygons or []]
    parts += [f"<circle>{c}</circle>" for c in circles or []]
    parts += [
        f"<geocode><valueName>{escape(n)}</valueName><value>{escape(v)}</value></geocode>"
        for n, v in geocodes or []
    ]
    return "<area>" + "".join(parts) + "</area>"


def info_xml(
    language: str | None = "en-US",
    headline: str = "Flood warning",
    description: str = "The river is rising.",
    instruction: str | None = "Move to higher ground.",
    expires: datetime | None = None,
    parameters: list[tuple[str, str]] | None = None,
    areas: list[str] | None = None,
    event: str = "Flood",
    category: str = "Met",
) -> str:
    """One <info> block, in the schema's element order."""
    expires = expires or datetime.now(UTC) + timedelta(hours=6)
    parts = [f"<language>{language}</language>" if language else ""]
    parts += [
        f"<category>{category}</category>",
        f"<event>{escape(event)}</event>",
        "<urgency>Immediate</urgency><severity>Severe</severity><certainty>Observed</certainty>",
        f"<expires>{cap_time(expires)}</expires>",
        f"<headline>{escape(headline)}</headline>",
        f"<description>{escape(description)}</description>",
    ]
    if instruction is not None:
        parts.append(f"<instruction>{escape(instruction)}</instruction>")
    parts += [
        f"<parameter><valueName>{escape(n)}</valueName><value>{escape(v)}</value></parameter>"
        for n, v in parameters or []
    ]
    parts += areas if areas is not None else [area_xml()]
    return "<info>" + "".join(parts) + "</info>"


def cap_message(
    identifier: str = "test-alert-1",
    sender: str = "sender@example.org",
    status: str = "Actual",
    msg_type: str = "Alert",
    references: list[str] | None = None,
    infos: list[str] | None = None,
    sent: datetime | None = None,
    namespace: str = CAP12,
    note: str | None = None,
) -> bytes:
    """A CAP message; every part has a sensible default that validates."""
    sent = sent or datetime.now(UTC) - timedelta(minutes=1)
    parts = [
        f"<identifier>{escape(identifier)}</identifier>",
        f"<sender>{escape(sender)}</sender>",
        f"<sent>{cap_time(sent)}</sent>",
        f"<status>{status}</status>",
        f"<msgType>{msg_type}</msgType>",
        "<scope>Public</scope>",
    ]
    if note is not None:
        parts.append(f"<note>{escape(note)}</note>")
    if references:
        parts.append(f"<references>{' '.join(references)}</references>")
    parts += infos if infos is not None else [info_xml()]
    body = "".join(parts)
    declaration = '<?xml version="1.0" encoding="UTF-8"?>\n'
    return f'{declaration}<alert xmlns="{namespace}">{body}</alert>'.encode()


def reference_to(message: bytes) -> str:
    """The "sender,identifier,sent" entry that names a message."""
    root = etree.fromstring(message)
    return ",".join(
        root.findtext(f"{{{CAP12}}}{name}") or "" for name in ("sender", "identifier", "sent")
    )


def user(session: Session, username: str) -> User:
    """A user of the test database by name."""
    found = session.scalar(select(User).where(User.username == username))
    assert found is not None, username
    return found
