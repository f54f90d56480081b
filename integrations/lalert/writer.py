"""Writing L-Alert XML: an EDXL-DE 1.0 distribution around a pcxml v4 Report, and an Atom feed.

The Report's body is pluggable (`ReportBody`): `EvacuationOrderBody` today; a `Shelter` body
(避難所情報) is another class with the same two members, and nothing else here changes.

The 公共情報コモンズ profile puts `commons:targetArea` and `commons:contentObject` directly in the
distribution, which the OASIS EDXL-DE 1.0 schema does not admit. We write the OASIS elements
(`edxlde:targetArea`, `edxlde:contentObject`) so the envelope validates against that schema, and
carry the commons extension elements (documentID, documentRevision, category, ...) in the
contentObject's extension slot; our reader accepts both forms.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Protocol

from lxml import etree

from integrations.lalert.reader import Circle, Coordinate, EvacuationDetail, Place
from integrations.lalert.vocabulary import (
    ATOM,
    COMMONS,
    EDXL,
    EVACUATION_ORDER,
    EXPORT_PCXML_VERSION,
    JST,
    SHELTER,
    pcxml_namespaces,
)

CONFIDENTIALITY = "UNCLASSIFIED AND NOT SENSITIVE"  # what the Commons samples declare
NS = pcxml_namespaces(EXPORT_PCXML_VERSION)


def xml_time(moment: datetime) -> str:
    """An xs:dateTime in Japan time to the second, as L-Alert senders write it."""
    return moment.astimezone(JST).replace(microsecond=0).isoformat()


def _number(value: float) -> str:
    return repr(float(value))


def circle_text(circle: Circle, separator: str) -> str:
    """ "lat,lon radius" (EDXL-DE) or "lat,lon,radius" (separator ",", the commons samples)."""
    return f"{_number(circle.lat)},{_number(circle.lon)}{separator}{_number(circle.radius_km)}"


def polygon_text(points: Sequence[Coordinate]) -> str:
    """EDXL-DE polygon: space-separated "lat,lon" pairs."""
    return " ".join(f"{_number(lat)},{_number(lon)}" for lat, lon in points)


def _sub(
    parent: etree._Element, namespace: str, name: str, text: str | int | None = None
) -> etree._Element:
    element = etree.SubElement(parent, f"{{{namespace}}}{name}")
    if text is not None:
        element.text = str(text)
    return element


def _location(parent: etree._Element, place: Place) -> None:
    """The place elements in commons order: shapes (edxlde), then name and codes (commons)."""
    for circle in place.circles:
        _sub(parent, EDXL, "circle", circle_text(circle, ","))
    for polygon in place.polygons:
        _sub(parent, EDXL, "polygon", polygon_text(polygon))
    _sub(parent, COMMONS, "areaName", place.name)
    _sub(parent, COMMONS, "jisX0402", place.jis_x0402)
    if place.chome_code:
        _sub(parent, COMMONS, "ooAzaTyouTyouMokuCode", place.chome_code)


class ReportBody(Protocol):
    """The category-specific part of a Report (EvacuationOrder, later Shelter)."""

    category: ClassVar[str]

    def element(self) -> etree._Element:
        """The body element, in its own pcxml body namespace."""
        ...


@dataclass(frozen=True)
class EvacuationOrderBody:
    """避難勧告・指示情報: the Disaster, a complementary note and one Detail per 発令区分."""

    category: ClassVar[str] = EVACUATION_ORDER
    disaster_name: str | None
    complementary_info: str | None
    details: tuple[EvacuationDetail, ...]
    head_count: int | str | None = None
    households: int | str | None = None

    def element(self) -> etree._Element:
        """`pcx_ev:EvacuationOrder` with Disaster, ComplementaryInfo, TotalNumber, Details."""
        ev, eb = NS["pcx_ev"], NS["pcx_eb"]
        body = etree.Element(f"{{{ev}}}EvacuationOrder", nsmap={"pcx_ev": ev})
        disaster = _sub(body, eb, "Disaster")
        _sub(disaster, eb, "DisasterName", self.disaster_name)
        _sub(body, ev, "ComplementaryInfo", self.complementary_info)
        total = _sub(body, ev, "TotalNumber")
        if self.head_count is not None:
            _sub(total, ev, "HeadCount", self.head_count)
        if self.households is not None:
            _sub(total, ev, "Households", self.households)
        for detail in self.details:
            detail_element = _sub(body, ev, "Detail")
            _sub(detail_element, ev, "Sort", detail.sort)
            _sub(detail_element, ev, "IssueOrLift", detail.issue_or_lift)
            areas = _sub(detail_element, ev, "Areas")
            for place in detail.places:
                area = _sub(areas, ev, "Area")
                _location(_sub(area, eb, "Location"), place)
                if place.date_time:
                    _sub(area, ev, "DateTime", place.date_time)
                if place.head_count is not None:
                    _sub(area, ev, "HeadCount", place.head_count)
                if place.households is not None:
                    _sub(area, ev, "Households", place.households)
        return body


@dataclass(frozen=True)
class ShelterDetail:
    """One shelter's state: 種別 (Type), 開設/閉鎖 (Sort), where, evacuees and capacity."""

    shelter_type: str
    sort: str
    place: Place
    date_time: str
    head_count: int
    capacity: int | None


@dataclass(frozen=True)
class ShelterBody:
    """避難所情報: the municipality's shelters with their state, one Detail each.

    No official Shelter sample is in our data, so the layout mirrors the EvacuationOrder body
    (Disaster, TotalNumber, Detail) with the fields the commons vocabulary names for shelters.
    """

    category: ClassVar[str] = SHELTER
    disaster_name: str | None
    details: tuple[ShelterDetail, ...]

    def element(self) -> etree._Element:
        """`pcx_sh:Shelter` with Disaster, TotalNumber and a Detail per shelter."""
        sh, eb = NS["pcx_sh"], NS["pcx_eb"]
        body = etree.Element(f"{{{sh}}}Shelter", nsmap={"pcx_sh": sh})
        disaster = _sub(body, eb, "Disaster")
        _sub(disaster, eb, "DisasterName", self.disaster_name)
        total = _sub(body, sh, "TotalNumber")
        _sub(total, sh, "HeadCount", sum(d.head_count for d in self.details))
        for detail in self.details:
            element = _sub(body, sh, "Detail")
            _sub(element, sh, "Type", detail.shelter_type)
            _sub(element, sh, "Sort", detail.sort)
            _location(_sub(element, eb, "Location"), detail.place)
            _sub(element, sh, "DateTime", detail.date_time)
            _sub(element, sh, "HeadCount", detail.head_count)
            if detail.capacity is not None:
                _sub(element, sh, "Capacity", detail.capacity)
        return body


@dataclass(frozen=True)
class CommonsDocument:
    """One revision of one L-Alert document, ready to be written."""

    distribution_id: str
    sender_id: str
    sent: datetime
    status: str
    distribution_type: str
    document_id: str
    revision: int
    previous_revision: int | None
    first_created: datetime
    valid_until: datetime
    target_time: datetime | None
    municipality_code: str
    municipality_name: str
    title: str
    headline_text: str
    description: str
    head_places: tuple[Place, ...]
    target_circles: tuple[Circle, ...]
    target_polygons: tuple[tuple[Coordinate, ...], ...]
    urgency: str
    severity: str
    certainty: str
    body: ReportBody


def _report(document: CommonsDocument) -> etree._Element:
    pcxml, ib, eb = NS["pcxml"], NS["pcx_ib"], NS["pcx_eb"]
    report = etree.Element(
        f"{{{pcxml}}}Report",
        nsmap={"pcxml": pcxml, "pcx_ib": ib, "pcx_eb": eb, "edxlde": EDXL, "commons": COMMONS},
    )
    control = _sub(report, pcxml, "Control")
    _sub(control, pcxml, "Title", document.body.category)
    _sub(control, EDXL, "distributionStatus", document.status)
    editorial = _sub(control, pcxml, "EditorialOffice")
    _sub(editorial, eb, "OrganizationCode", document.municipality_code)
    _sub(editorial, eb, "OrganizationName", document.municipality_name)
    office = _sub(_sub(control, pcxml, "PublishingOffice"), eb, "OfficeInfo")
    _sub(office, eb, "OrganizationCode", document.municipality_code)
    _sub(office, eb, "OrganizationName", document.municipality_name)

    head = _sub(report, ib, "Head")
    _sub(head, ib, "Title", document.title)
    _sub(head, ib, "CreateDateTime", xml_time(document.sent))
    _sub(head, ib, "FirstCreateDateTime", xml_time(document.first_created))
    _sub(head, ib, "ReportDateTime", xml_time(document.sent))
    if document.target_time is not None:
        _sub(head, ib, "TargetDateTime", xml_time(document.target_time))
    _sub(head, ib, "ValidDateTime", xml_time(document.valid_until))
    _sub(head, EDXL, "distributionID", document.distribution_id)
    _sub(head, EDXL, "distributionType", document.distribution_type)
    _sub(head, COMMONS, "documentRevision", document.revision)
    if document.previous_revision is not None:
        _sub(head, COMMONS, "previousDocumentRevision", document.previous_revision)
    _sub(head, COMMONS, "documentID", document.document_id)
    headline = _sub(head, ib, "Headline")
    _sub(headline, ib, "Text", document.headline_text)
    areas = _sub(headline, ib, "Areas")
    for place in document.head_places:
        _location(_sub(areas, ib, "Area"), place)

    report.append(document.body.element())
    return report


def build_distribution(document: CommonsDocument) -> etree._Element:
    """The EDXL-DE distribution of one document revision (valid against the OASIS schema)."""
    root = etree.Element(f"{{{EDXL}}}EDXLDistribution", nsmap={"edxlde": EDXL, "commons": COMMONS})
    _sub(root, EDXL, "distributionID", document.distribution_id)
    _sub(root, EDXL, "senderID", document.sender_id)
    _sub(root, EDXL, "dateTimeSent", xml_time(document.sent))
    _sub(root, EDXL, "distributionStatus", document.status)
    _sub(root, EDXL, "distributionType", document.distribution_type)
    _sub(root, EDXL, "combinedConfidentiality", CONFIDENTIALITY)
    _sub(root, EDXL, "language", "ja-JP")
    target = _sub(root, EDXL, "targetArea")
    for circle in document.target_circles:
        _sub(target, EDXL, "circle", circle_text(circle, " "))
    for polygon in document.target_polygons:
        _sub(target, EDXL, "polygon", polygon_text(polygon))
    _sub(target, EDXL, "country", "JP")
    # ISO 3166-2 prefecture: the first two digits of the 全国地方公共団体コード.
    _sub(target, EDXL, "subdivision", f"JP-{document.municipality_code[:2]}")

    content = _sub(root, EDXL, "contentObject")
    _sub(content, EDXL, "contentDescription", document.description)
    embedded = _sub(_sub(content, EDXL, "xmlContent"), EDXL, "embeddedXMLContent")
    embedded.append(_report(document))
    _sub(content, COMMONS, "publishingOfficeName", document.municipality_name)
    _sub(content, COMMONS, "publishingOfficeID", document.municipality_code)
    if document.previous_revision is not None:
        _sub(content, COMMONS, "previousDocumentRevision", document.previous_revision)
    _sub(content, COMMONS, "documentRevision", document.revision)
    _sub(content, COMMONS, "documentID", document.document_id)
    _sub(content, COMMONS, "category", document.body.category)
    _sub(content, COMMONS, "urgency", document.urgency)
    _sub(content, COMMONS, "severity", document.severity)
    _sub(content, COMMONS, "certainty", document.certainty)
    return root


@dataclass(frozen=True)
class FeedEntry:
    """One alert in the feed: its current revision as a whole distribution."""

    id: str
    title: str
    updated: datetime
    link: str
    distribution: etree._Element


def build_feed(
    feed_id: str,
    title: str,
    author: str,
    self_link: str,
    updated: datetime,
    entries: list[FeedEntry],
) -> etree._Element:
    """An Atom feed (RFC 4287) whose entries each hold one EDXL-DE distribution as content."""
    feed = etree.Element(f"{{{ATOM}}}feed", nsmap={None: ATOM, "edxlde": EDXL, "commons": COMMONS})
    _sub(feed, ATOM, "id", feed_id)
    _sub(feed, ATOM, "title", title)
    _sub(feed, ATOM, "updated", xml_time(updated))
    link = _sub(feed, ATOM, "link")
    link.set("rel", "self")
    link.set("href", self_link)
    _sub(_sub(feed, ATOM, "author"), ATOM, "name", author)
    for entry in entries:
        element = _sub(feed, ATOM, "entry")
        _sub(element, ATOM, "id", entry.id)
        _sub(element, ATOM, "title", entry.title)
        _sub(element, ATOM, "updated", xml_time(entry.updated))
        alternate = _sub(element, ATOM, "link")
        alternate.set("rel", "alternate")
        alternate.set("type", "application/xml")
        alternate.set("href", entry.link)
        content = _sub(element, ATOM, "content")
        content.set("type", "application/xml")
        content.append(entry.distribution)
    return feed


def serialize(element: etree._Element) -> bytes:
    """UTF-8 XML with a declaration."""
    return bytes(etree.tostring(element, xml_declaration=True, encoding="UTF-8", pretty_print=True))
