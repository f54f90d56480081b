"""L-Alert decisions: import a message as an alert, export an alert's revisions and a feed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts import import_message
from alerts.drills import marked_headline
from alerts.models import Alert, AlertVersion, ExternalMessage
from gis import normalize_municipality_code
from integrations.lalert.mapping import identifier, skip_reason, to_incoming
from integrations.lalert.reader import Circle, CommonsMessage, Coordinate, EvacuationDetail, Place
from integrations.lalert.reader import read_message as read
from integrations.lalert.vocabulary import (
    CATEGORY_LABELS,
    EVACUATION_ORDER,
    ISSUE,
    JST,
    LEVEL_SORTS,
    LIFT,
    SHELTER,
    sort_level,
)
from integrations.lalert.writer import (
    CommonsDocument,
    EvacuationOrderBody,
    FeedEntry,
    ShelterBody,
    ShelterDetail,
    build_distribution,
    build_feed,
    serialize,
    xml_time,
)
from kizuna.db import utcnow
from kizuna.errors import Conflict, InvalidInput, NotFound
from kizuna.models import Municipality, User
from kizuna.settings import Settings

XML_MEDIA_TYPE = "application/xml"
FEED_MEDIA_TYPE = "application/atom+xml"


# ---------------------------------------------------------------------------------------------
# Import


@dataclass(frozen=True)
class LAlertImport:
    """What became of one message: an alert outcome, a duplicate, or skipped with a reason."""

    outcome: str
    alert_id: str | None = None
    version: int | None = None
    recipients: int = 0
    identifier: str | None = None
    msg_type: str | None = None
    municipality_code: str | None = None
    evacuation_level: int | None = None
    reason: str | None = None


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _imported_revisions(session: Session, document_id: str) -> dict[int, ExternalMessage]:
    """Revisions of one document already imported, from any sender: documentID is a UUID
    unique across L-Alert, so a relay through another node is still the same document."""
    rows = session.scalars(
        select(ExternalMessage).where(
            ExternalMessage.source_format == "lalert",
            ExternalMessage.key.like(f"%,{_like_escape(document_id)}#%", escape="\\"),
        )
    )
    found: dict[int, ExternalMessage] = {}
    for row in rows:
        revision = row.key.rsplit("#", 1)[1]
        if revision.isdigit() and row.key.split(",", 1)[1] == identifier(
            document_id, int(revision)
        ):
            found[int(revision)] = row
    return found


def _own_version(session: Session, message: CommonsMessage) -> AlertVersion | None:
    """Our own export coming back (documentID = our alert id, revision = our version)."""
    return session.scalar(
        select(AlertVersion).where(
            AlertVersion.alert_id == message.document_id,
            AlertVersion.version == message.revision,
        )
    )


def import_xml(
    session: Session, settings: Settings, actor: User, data: bytes, force_trusted: bool = False
) -> LAlertImport:
    """Import one L-Alert message (bare or SOAP-wrapped) through `alerts.import_message`.

    Issued at once when the sender is in settings.lalert_trusted_senders (or `force_trusted`),
    a draft otherwise. Shelter and other categories are skipped with a reason, storing nothing.
    """
    message = read(data, settings.max_xml_bytes)
    skipped = skip_reason(message)
    if skipped is not None:
        return LAlertImport("skipped", reason=skipped.reason)
    incoming = to_incoming(message)
    summary: dict[str, Any] = {
        "identifier": incoming.identifier,
        "msg_type": incoming.msg_type,
        "municipality_code": incoming.municipality_code,
        "evacuation_level": incoming.content["evacuation_level"],
    }
    own = _own_version(session, message)
    if own is not None:
        return LAlertImport(
            "duplicate",
            own.alert_id,
            own.version,
            reason="this is our own alert, sent back to us",
            **summary,
        )
    earlier = _imported_revisions(session, message.document_id)
    seen = earlier.get(message.revision)
    if seen is not None and seen.key != incoming.key:
        return LAlertImport(
            "duplicate", seen.alert_id, reason=f"already imported from {seen.key}", **summary
        )
    known = [revision for revision in earlier if revision < message.revision]
    if known and message.previous_revision is not None:
        # When revisions in between were missed, the newest one we hold still leads to the
        # alert; the declared previous revision is tried first (references are read last first).
        fallback = earlier[max(known)].key
        incoming.references = list(dict.fromkeys([fallback, *incoming.references]))
    trusted = force_trusted or incoming.sender in settings.lalert_trusted_senders
    result = import_message(session, settings, actor, incoming, trusted)
    return LAlertImport(
        result.outcome, result.alert_id, result.version, result.recipients, **summary
    )


# ---------------------------------------------------------------------------------------------
# Export


def _municipality_name(session: Session, code: str) -> str:
    municipality = session.get(Municipality, code)
    return municipality.name if municipality is not None else code


def _japanese_info(content: dict[str, Any]) -> dict[str, Any]:
    """L-Alert carries Japanese only: the ja info block, else the first one."""
    infos: list[dict[str, Any]] = content.get("info") or []
    for info in infos:
        if str(info.get("language", "")).lower().split("-")[0] == "ja":
            return info
    if not infos:
        raise Conflict("the alert has no text to send", code="not_exportable")
    return infos[0]


def _evacuation_state(alert: Alert, version: AlertVersion) -> tuple[int, bool]:
    """(警戒レベル, lifted) of one version: a Cancel lifts, so does a lowering below level 3."""
    level = version.content.get("evacuation_level")
    earlier = [
        v.content.get("evacuation_level") for v in alert.versions if v.version < version.version
    ]
    last = next((value for value in reversed(earlier) if value and value >= 3), None)
    if version.msg_type == "Cancel":
        lifted_level = level if level and level >= 3 else last
        if lifted_level is not None:
            return lifted_level, True
    elif level and level >= 3:
        return level, False
    elif last is not None:
        return last, True
    raise Conflict(
        f"alert {alert.id} version {version.version} has no evacuation level 3–5; an L-Alert "
        "EvacuationOrder needs 高齢者等避難 (3), 避難指示 (4) or 緊急安全確保 (5)",
        field="evacuation_level",
        code="not_evacuation",
    )


def _content_places(
    session: Session, content: dict[str, Any], code: str, name: str, when: str
) -> tuple[Place, ...]:
    """The alert area as commons Areas: each circle and polygon ring, each municipality."""
    area = content.get("area") or {}
    places: list[Place] = [
        Place(
            name=name,
            jis_x0402=code,
            circles=(Circle(lat=c["lat"], lon=c["lon"], radius_km=c["radius_km"]),),
            date_time=when,
        )
        for c in area.get("circles") or []
    ]
    geometry = area.get("geometry")
    if geometry:
        coordinates = geometry["coordinates"]
        parts = [coordinates] if geometry["type"] == "Polygon" else coordinates
        # EDXL-DE polygons are simple rings: holes are left out (the area only grows).
        for part in parts:
            ring: tuple[Coordinate, ...] = tuple((lat, lon) for lon, lat, *_ in part[0])
            places.append(Place(name=name, jis_x0402=code, polygons=(ring,), date_time=when))
    for other in area.get("municipality_codes") or []:
        places.append(
            Place(name=_municipality_name(session, other), jis_x0402=other, date_time=when)
        )
    return tuple(places)


def _payload_place(data: dict[str, Any]) -> Place:
    return Place(
        name=data.get("name"),
        jis_x0402=data.get("jisX0402"),
        chome_code=data.get("chome_code"),
        circles=tuple(Circle(lat=c[0], lon=c[1], radius_km=c[2]) for c in data.get("circles", [])),
        polygons=tuple(
            tuple((point[0], point[1]) for point in polygon) for polygon in data.get("polygons", [])
        ),
        date_time=data.get("date_time"),
        head_count=data.get("head_count"),
        households=data.get("households"),
    )


def _imported_details(version: AlertVersion) -> tuple[EvacuationDetail, ...] | None:
    """The Details an imported L-Alert version arrived with (町丁目 codes and all), if any."""
    origin = version.origin or {}
    payload = origin.get("payload") or {}
    if origin.get("format") != "lalert" or not payload.get("details"):
        return None
    return tuple(
        EvacuationDetail(
            sort=detail["sort"],
            issue_or_lift=detail["issue_or_lift"],
            level=sort_level(detail["sort"]),
            places=tuple(_payload_place(place) for place in detail["places"]),
        )
        for detail in payload["details"]
    )


def _summary(detail: EvacuationDetail, sent: datetime, name: str) -> str:
    """contentDescription as the Commons samples write it: 発令区分, 発令/解除, time, where."""
    local = sent.astimezone(JST)
    return (
        f"{detail.sort}  {detail.issue_or_lift}  "
        f"{local.month:02d}月{local.day:02d}日{local.hour:02d}時{local.minute:02d}分 ({name})"
    )


def alert_document(
    session: Session, settings: Settings, alert: Alert, version: AlertVersion
) -> CommonsDocument:
    """One version of our alert as an L-Alert EvacuationOrder revision.

    documentID is the alert id, documentRevision the version number, previousDocumentRevision
    the version before it; a Cancel (or a lowering below level 3) is a 解除 revision.
    """
    level, lifted = _evacuation_state(alert, version)
    content = version.content
    code = alert.municipality_code
    name = _municipality_name(session, code)
    info = _japanese_info(content)
    first = alert.versions[0]
    sort = LEVEL_SORTS[level]
    issue_or_lift = LIFT if lifted else ISSUE
    when = xml_time(version.sent if lifted else first.sent)
    details = _imported_details(version) or (
        EvacuationDetail(
            sort=sort,
            issue_or_lift=issue_or_lift,
            level=level,
            places=_content_places(session, content, code, name, when),
        ),
    )
    places = [place for detail in details for place in detail.places]
    origin_payload = (version.origin or {}).get("payload") or {}
    total = origin_payload.get("total") or {}
    note = (content.get("cancel_reason") if lifted else None) or info.get("instruction")
    onset = content.get("onset")
    return CommonsDocument(
        distribution_id=version.id,
        sender_id=f"{code}@{settings.cap_sender_domain}",
        sent=version.sent,
        status=version.status if version.status in ("Actual", "Exercise", "Test") else "Test",
        distribution_type="Report" if version.version == 1 else "Update",
        document_id=alert.id,
        revision=version.version,
        previous_revision=version.version - 1 if version.version > 1 else None,
        first_created=first.sent,
        valid_until=version.expires,
        target_time=datetime.fromisoformat(onset) if onset else None,
        municipality_code=code,
        municipality_name=name,
        # distributionStatus says Exercise/Test; the title says 【訓練】 for people reading it.
        title=marked_headline(version.status, "ja", info["headline"]),
        headline_text=info["description"],
        description=_summary(details[0], version.sent, name),
        head_places=(Place(name=name, jis_x0402=code),),
        target_circles=tuple(circle for place in places for circle in place.circles),
        target_polygons=tuple(polygon for place in places for polygon in place.polygons),
        urgency=content["urgency"],
        severity=content["severity"],
        certainty=content["certainty"],
        body=EvacuationOrderBody(
            disaster_name=content.get("event"),
            complementary_info=note,
            details=details,
            head_count=total.get("head_count"),
            households=total.get("households"),
        ),
    )


def _issued_alert(session: Session, alert_id: str) -> Alert:
    alert = session.get(Alert, alert_id)
    # Drafts were never sent to anyone: they do not exist as far as this public route goes.
    if alert is None or alert.state == "draft" or not alert.versions:
        raise NotFound(f"no issued alert {alert_id}")
    return alert


def alert_message(
    session: Session, settings: Settings, alert_id: str, version_number: int | None = None
) -> bytes:
    """One issued alert's revision (the latest, or `version_number`) as an EDXL-DE message."""
    alert = _issued_alert(session, alert_id)
    if version_number is None:
        version = alert.versions[-1]
    else:
        found = [v for v in alert.versions if v.version == version_number]
        if not found:
            raise NotFound(
                f"alert {alert_id} has versions 1–{alert.current_version}, not {version_number}",
                field="version",
            )
        version = found[0]
    return serialize(build_distribution(alert_document(session, settings, alert, version)))


def municipality_feed(session: Session, settings: Settings, raw_code: str) -> bytes:
    """The municipality's active evacuation alerts: an Atom feed, one EDXL-DE message each."""
    try:
        code = normalize_municipality_code(raw_code)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="municipality_code") from None
    municipality = session.get(Municipality, code)
    if municipality is None:
        raise NotFound(f"no municipality {code}", field="municipality_code")
    alerts = session.scalars(
        select(Alert)
        .where(
            Alert.municipality_code == code,
            Alert.state == "issued",
            Alert.expires > utcnow(),
        )
        .order_by(Alert.updated_at.desc())
    )
    base = settings.public_base_url.rstrip("/")
    entries: list[FeedEntry] = []
    shelters = shelter_document(session, settings, code, municipality.name)
    if shelters is not None:
        entries.append(
            FeedEntry(
                id=f"urn:kizuna:lalert:{code}:shelters",
                title=shelters.title,
                updated=shelters.sent,
                link=f"{base}/api/v1/shelters?municipality={code}&open=true",
                distribution=build_distribution(shelters),
            )
        )
    for alert in alerts:
        version = alert.versions[-1]
        try:
            document = alert_document(session, settings, alert, version)
        except Conflict:
            continue  # not an evacuation alert (no level 3–5): not for L-Alert
        entries.append(
            FeedEntry(
                id=f"urn:uuid:{alert.id}",
                title=document.title,
                updated=version.sent,
                link=f"{base}/api/v1/alerts/{alert.id}/lalert?version={version.version}",
                distribution=build_distribution(document),
            )
        )
    updated = max((entry.updated for entry in entries), default=utcnow())
    feed = build_feed(
        feed_id=f"urn:kizuna:lalert:{code}",
        title=f"{municipality.name} {CATEGORY_LABELS[EVACUATION_ORDER]}",
        author=municipality.name,
        self_link=f"{base}/feeds/lalert/{code}.xml",
        updated=updated,
        entries=entries,
    )
    return serialize(feed)


SHELTER_TYPES = {
    "evacuation_site": "避難場所",
    "shelter": "避難所",
    "welfare_shelter": "福祉避難所",
}


def shelter_document(
    session: Session, settings: Settings, code: str, name: str
) -> CommonsDocument | None:
    """The municipality's open shelters as one 避難所情報 document, or None when none is open.

    Its revision counts the municipality's shelter changes (the history only grows), so every
    change gives a higher documentRevision.
    """
    from shelters.models import Shelter, ShelterHistory

    open_shelters = list(
        session.scalars(
            select(Shelter)
            .where(Shelter.municipality_code == code, Shelter.status != "closed")
            .order_by(Shelter.name)
        )
    )
    if not open_shelters:
        return None
    changes = (
        select(ShelterHistory)
        .join(Shelter, Shelter.id == ShelterHistory.shelter_id)
        .where(Shelter.municipality_code == code, ShelterHistory.source == "api")
    )
    revision = len(session.scalars(changes).all()) or 1
    sent = max(s.updated_at for s in open_shelters)
    first = (
        session.scalar(
            select(ShelterHistory.at)
            .join(Shelter, Shelter.id == ShelterHistory.shelter_id)
            .where(Shelter.municipality_code == code, ShelterHistory.source == "api")
            .order_by(ShelterHistory.at)
            .limit(1)
        )
        or sent
    )
    details = tuple(
        ShelterDetail(
            shelter_type=SHELTER_TYPES.get(s.kind, "避難所"),
            sort="開設",
            place=Place(name=s.name, jis_x0402=code, circles=(Circle(s.lat, s.lon, 0.0),)),
            date_time=xml_time(s.updated_at),
            head_count=s.occupancy,
            capacity=s.capacity,
        )
        for s in open_shelters
    )
    evacuees = sum(s.occupancy for s in open_shelters)
    headline = f"{name}: 開設中の避難所 {len(open_shelters)} か所、避難者 {evacuees} 人"
    return CommonsDocument(
        distribution_id=f"urn:kizuna:shelters:{code}:{revision}",
        sender_id=f"{code}@{settings.cap_sender_domain}",
        sent=sent,
        status="Actual",
        distribution_type="Report" if revision == 1 else "Update",
        document_id=f"urn:kizuna:shelters:{code}",
        revision=revision,
        previous_revision=revision - 1 if revision > 1 else None,
        first_created=first,
        valid_until=sent + timedelta(hours=24),
        target_time=None,
        municipality_code=code,
        municipality_name=name,
        title=f"{name} {CATEGORY_LABELS[SHELTER]}",
        headline_text=headline,
        description=headline,
        head_places=(Place(name=name, jis_x0402=code),),
        target_circles=(),
        target_polygons=(),
        urgency="Unknown",
        severity="Unknown",
        certainty="Unknown",
        body=ShelterBody(disaster_name=None, details=details),
    )
