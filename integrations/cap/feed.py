"""The public Atom index of active alerts, each entry linking its CAP message, with validators."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

from lxml import etree
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from alerts.drills import marked_headline
from alerts.models import Alert, ExternalMessage
from alerts.service import choose_info, format_cap_time
from integrations.cap.model import ATOM, CAP12, MEDIA_TYPE
from kizuna.db import utcnow
from kizuna.settings import Settings

FEED_PATH = "/feeds/cap.atom"
FEED_MEDIA_TYPE = "application/atom+xml"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SUMMARY_LIMIT = 1000


@dataclass(frozen=True)
class FeedDocument:
    """The feed's bytes and the validators a client revalidates with."""

    body: bytes
    etag: str
    last_modified: datetime

    @property
    def last_modified_http(self) -> str:
        return format_datetime(self.last_modified, usegmt=True)

    def not_modified(self, if_none_match: str | None, if_modified_since: str | None) -> bool:
        """Whether a conditional GET may be answered 304 (If-None-Match wins, RFC 9110)."""
        if if_none_match is not None:
            tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
            return "*" in tags or self.etag in tags
        if if_modified_since is not None:
            try:
                since = parsedate_to_datetime(if_modified_since)
            except (TypeError, ValueError):
                return False
            if since.tzinfo is None:
                since = since.replace(tzinfo=UTC)
            return self.last_modified <= since
        return False


def _last_modified(session: Session, now: datetime) -> datetime:
    """When the set of active alerts or any of their versions last changed (whole seconds).

    An alert changes the feed when a version is written (officers set updated_at; imports keep
    the sender's sent time there, so their arrival counts instead), when it is cancelled or
    expired (updated_at), and the moment its expiry passes, before the timer marks it.
    """
    changed = session.scalar(select(func.max(Alert.updated_at)).where(Alert.state != "draft"))
    received = session.scalar(
        select(func.max(ExternalMessage.received_at)).where(
            ExternalMessage.alert_version_id.is_not(None)
        )
    )
    lapsed = session.scalar(
        select(func.max(Alert.expires)).where(Alert.state != "draft", Alert.expires <= now)
    )
    moments = [_aware(m) for m in (changed, received, lapsed) if m is not None]
    return max(moments, default=_EPOCH).replace(microsecond=0)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _q(name: str, namespace: str = ATOM) -> str:
    return f"{{{namespace}}}{name}"


def _add(parent: etree._Element, name: str, text: str | None, namespace: str = ATOM) -> None:
    if text is None:
        return
    etree.SubElement(parent, _q(name, namespace)).text = text


def build_feed(session: Session, settings: Settings) -> FeedDocument:
    """The Atom feed of every active alert (issued, not yet expired), newest change first."""
    now = utcnow()
    last_modified = _last_modified(session, now)
    base = settings.public_base_url.rstrip("/")
    alerts = session.scalars(
        select(Alert)
        .where(Alert.state == "issued", Alert.expires > now)
        .order_by(Alert.updated_at.desc(), Alert.id)
    ).all()
    feed = etree.Element(_q("feed"), nsmap={None: ATOM, "cap": CAP12})
    _add(feed, "id", f"{base}{FEED_PATH}")
    _add(feed, "title", "Kizuna: active alerts (CAP 1.2)")
    _add(feed, "updated", format_cap_time(last_modified))
    etree.SubElement(feed, _q("link"), rel="self", href=f"{base}{FEED_PATH}")
    author = etree.SubElement(feed, _q("author"))
    _add(author, "name", "Kizuna")
    _add(feed, "generator", "Kizuna")
    for alert in alerts:
        if not alert.versions:
            continue
        version = alert.versions[-1]
        content = version.content
        infos = content.get("info") or []
        info = choose_info(infos, ["ja"]) if infos else {}
        entry = etree.SubElement(feed, _q("entry"))
        _add(entry, "id", f"urn:uuid:{alert.id}")
        title = info.get("headline") or content.get("event") or version.identifier
        _add(entry, "title", marked_headline(version.status, info.get("language") or "ja", title))
        _add(entry, "updated", format_cap_time(version.sent))
        _add(entry, "published", format_cap_time(alert.versions[0].sent))
        etree.SubElement(entry, _q("author")).append(_name(version.sender))
        _add(entry, "summary", (info.get("description") or "")[:_SUMMARY_LIMIT])
        etree.SubElement(
            entry,
            _q("link"),
            rel="alternate",
            type=MEDIA_TYPE,
            href=f"{base}/api/v1/alerts/{alert.id}/cap",
        )
        if content.get("category"):
            etree.SubElement(entry, _q("category"), term=str(content["category"]))
        # The CAP index fields public index feeds carry, so a reader can triage unopened.
        _add(entry, "identifier", version.identifier, CAP12)
        _add(entry, "event", content.get("event"), CAP12)
        _add(entry, "status", version.status, CAP12)
        _add(entry, "msgType", version.msg_type, CAP12)
        for name in ("urgency", "severity", "certainty"):
            _add(entry, name, content.get(name), CAP12)
        _add(entry, "expires", format_cap_time(version.expires), CAP12)
    body = etree.tostring(feed, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    return FeedDocument(body=body, etag=etag, last_modified=last_modified)


def _name(sender: str) -> etree._Element:
    element = etree.Element(_q("name"))
    element.text = sender
    return element
