"""Reading L-Alert XML: an EDXL-DE distribution with commons extensions around a pcxml Report.

Elements are found by local name under a known parent, so any namespace prefix (pcx_ib, pcx_cns_i3,
a default namespace) and pcxml v3 or v4 read the same; the namespaces themselves are checked
once, up front (`safexml.check_namespaces`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from lxml import etree

from integrations.lalert import safexml
from integrations.lalert.vocabulary import (
    EDXL,
    EVACUATION_ORDER,
    ISSUE,
    JST,
    LIFT,
    REPORT_NAMESPACE,
    STATUSES,
    normalize_word,
    sort_level,
)
from kizuna.errors import InvalidInput

MAX_ID_LENGTH = 150  # documentID and senderID end up in 200-character identifier columns

Coordinate = tuple[float, float]  # (lat, lon), the order EDXL-DE and commons write


@dataclass(frozen=True)
class Circle:
    lat: float
    lon: float
    radius_km: float


@dataclass(frozen=True)
class Place:
    """One Area of a Headline or a Detail: a named place with its codes and shapes."""

    name: str | None = None
    jis_x0402: str | None = None
    # 大字・町丁目コード (12 digits): we hold no 町丁目 boundaries, so it is carried, not mapped.
    chome_code: str | None = None
    circles: tuple[Circle, ...] = ()
    polygons: tuple[tuple[Coordinate, ...], ...] = ()
    date_time: str | None = None
    head_count: int | str | None = None
    households: int | str | None = None
    where: str = ""  # where in the message, for error messages

    @property
    def has_shape(self) -> bool:
        return bool(self.circles or self.polygons)


@dataclass(frozen=True)
class EvacuationDetail:
    """One Detail of an EvacuationOrder: a 発令区分, 発令 or 解除, and the places it covers."""

    sort: str
    issue_or_lift: str
    level: int | None
    places: tuple[Place, ...]

    @property
    def lifted(self) -> bool:
        return self.issue_or_lift == LIFT


@dataclass(frozen=True)
class EvacuationOrder:
    disaster_name: str | None
    complementary_info: str | None
    head_count: int | str | None
    households: int | str | None
    details: tuple[EvacuationDetail, ...]


@dataclass
class CommonsMessage:
    """What one L-Alert message says, in its own terms; mapping to alerts is elsewhere."""

    distribution_id: str | None
    sender_id: str | None
    sent: datetime
    distribution_status: str | None
    distribution_type: str | None
    category: str | None
    document_id: str
    revision: int
    previous_revision: int | None
    pcxml_version: int | None = None
    control_status: str | None = None
    office_code: str | None = None
    office_name: str | None = None
    organization_name: str | None = None
    publishing_office_id: str | None = None
    title: str | None = None
    headline_text: str | None = None
    content_description: str | None = None
    head_places: list[Place] = field(default_factory=list)
    target_codes: list[str] = field(default_factory=list)
    target_circles: list[Circle] = field(default_factory=list)
    target_polygons: list[tuple[Coordinate, ...]] = field(default_factory=list)
    first_created: datetime | None = None
    target_time: datetime | None = None
    valid_until: datetime | None = None
    urgency: str | None = None
    severity: str | None = None
    certainty: str | None = None
    evacuation: EvacuationOrder | None = None
    bodies: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        """Actual only when every status in the message says so: a drill never turns real."""
        statuses = [s for s in (self.control_status, self.distribution_status) if s]
        if not statuses:
            raise InvalidInput(
                "the message states no status (edxlde:distributionStatus)",
                field="edxlde:distributionStatus",
            )
        return next((status for status in statuses if status != "Actual"), "Actual")


# ---------------------------------------------------------------------------------------------
# Navigation by local name


def _children(parent: etree._Element | None, name: str) -> Iterator[etree._Element]:
    if parent is None:
        return
    for child in parent.iterchildren(etree.Element):
        if safexml.local(child) == name:
            yield child


def _child(parent: etree._Element | None, name: str) -> etree._Element | None:
    return next(_children(parent, name), None)


def _text(parent: etree._Element | None, *path: str) -> str | None:
    """Stripped text at a path of local names; None when missing or empty."""
    element = parent
    for name in path:
        element = _child(element, name)
        if element is None:
            return None
    text = "".join(element.itertext()).strip() if element is not None else ""
    return text or None


def _first_text(candidates: list[tuple[etree._Element | None, str]]) -> str | None:
    for parent, name in candidates:
        value = _text(parent, name)
        if value is not None:
            return value
    return None


# ---------------------------------------------------------------------------------------------
# Values


def parse_time(value: str | None, field: str) -> datetime | None:
    """An xs:dateTime; without an offset it is Japan time, as every L-Alert sender means it."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(f"{value!r} is not an xs:dateTime", field=field) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=JST)


def _revision(value: str | None, field: str) -> int | None:
    if value is None:
        return None
    text = value.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 9 or int(text) < 1:
        raise InvalidInput(f"{field} must be a positive integer, got {value!r}", field=field)
    return int(text)


def _count(value: str | None) -> int | str | None:
    """HeadCount / Households: a number when it is one, else the text as written."""
    if value is None:
        return None
    word = normalize_word(value).replace(",", "")
    return int(word) if word.isascii() and word.isdigit() and len(word) < 10 else value


def _identifier(value: str | None, field: str) -> str | None:
    if value is None:
        return None
    if len(value) > MAX_ID_LENGTH or re.search(r"[\s,<>&]", value):
        raise InvalidInput(
            f"{field} must be at most {MAX_ID_LENGTH} characters without spaces, commas, < > &",
            field=field,
        )
    return value


_NUMBER = r"[-+]?\d+(?:\.\d+)?"
_CIRCLE = re.compile(rf"^\s*({_NUMBER})\s*,\s*({_NUMBER})\s*[,\s]\s*({_NUMBER})\s*$")
_PAIR = re.compile(rf"^({_NUMBER}),({_NUMBER})$")


def _check_position(lat: float, lon: float, field: str) -> None:
    if not (math.isfinite(lat) and -90 <= lat <= 90):
        hint = " (it looks like lon,lat; EDXL-DE writes lat,lon)" if -180 <= lat <= 180 else ""
        raise InvalidInput(f"latitude {lat} is outside [-90, 90]{hint}", field=field)
    if not (math.isfinite(lon) and -180 <= lon <= 180):
        raise InvalidInput(f"longitude {lon} is outside [-180, 180]", field=field)


def parse_circle(value: str, field: str) -> Circle:
    """An EDXL-DE circle "lat,lon radius" (the commons samples write "lat,lon,radius"); km."""
    match = _CIRCLE.match(value)
    if match is None:
        raise InvalidInput(
            f"circle {value[:60]!r} is not 'lat,lon radius_km' (or 'lat,lon,radius_km')",
            field=field,
        )
    lat, lon, radius = (float(group) for group in match.groups())
    _check_position(lat, lon, field)
    if not 0 <= radius <= 1000:
        raise InvalidInput(f"circle radius {radius} km is outside [0, 1000]", field=field)
    return Circle(lat=lat, lon=lon, radius_km=radius)


def parse_polygon(value: str, field: str) -> tuple[Coordinate, ...]:
    """An EDXL-DE polygon: space-separated "lat,lon" pairs, the first repeated last."""
    points: list[Coordinate] = []
    for index, pair in enumerate(value.split()):
        match = _PAIR.match(pair)
        if match is None:
            raise InvalidInput(f"polygon point {index} {pair[:40]!r} is not 'lat,lon'", field=field)
        lat, lon = float(match.group(1)), float(match.group(2))
        _check_position(lat, lon, f"{field}[{index}]")
        points.append((lat, lon))
    if len(points) < 4 or points[0] != points[-1]:
        raise InvalidInput(
            "a polygon needs at least 4 'lat,lon' points with the first repeated last",
            field=field,
        )
    return tuple(points)


# ---------------------------------------------------------------------------------------------
# Parts of the message


def _place(element: etree._Element, field: str) -> Place:
    """An Area: Location (elementBasis) holds the codes and shapes; Headline Areas hold them
    directly."""
    location = _child(element, "Location")
    holder = location if location is not None else element
    where = f"{field}.Location" if location is not None else field
    circles = tuple(
        parse_circle(text, f"{where}.circle")
        for circle in _children(holder, "circle")
        if (text := "".join(circle.itertext()).strip())
    )
    polygons = tuple(
        parse_polygon(text, f"{where}.polygon")
        for polygon in _children(holder, "polygon")
        if (text := "".join(polygon.itertext()).strip())
    )
    return Place(
        name=_text(holder, "areaName"),
        jis_x0402=_text(holder, "jisX0402"),
        chome_code=_text(holder, "ooAzaTyouTyouMokuCode"),
        circles=circles,
        polygons=polygons,
        date_time=_text(element, "DateTime"),
        head_count=_count(_text(element, "HeadCount")),
        households=_count(_text(element, "Households")),
        where=field,
    )


def _places(areas: etree._Element | None, field: str) -> list[Place]:
    return [
        _place(area, f"{field}.Area[{index}]")
        for index, area in enumerate(_children(areas, "Area"))
    ]


def _evacuation_order(body: etree._Element) -> EvacuationOrder:
    details: list[EvacuationDetail] = []
    for index, detail in enumerate(_children(body, "Detail")):
        where = f"EvacuationOrder.Detail[{index}]"
        sort = _text(detail, "Sort")
        if sort is None:
            raise InvalidInput("a Detail needs its 発令区分 (Sort)", field=f"{where}.Sort")
        level = sort_level(sort)
        if level is None:
            raise InvalidInput(
                f"unknown 発令区分 {sort!r}: expected 高齢者等避難, 避難指示, 緊急安全確保 "
                "(or the older 避難準備, 避難勧告, 警戒区域)",
                field=f"{where}.Sort",
            )
        issue_or_lift = normalize_word(_text(detail, "IssueOrLift") or ISSUE)
        if issue_or_lift not in (ISSUE, LIFT):
            raise InvalidInput(
                f"IssueOrLift must be 発令 or 解除, got {issue_or_lift!r}",
                field=f"{where}.IssueOrLift",
            )
        details.append(
            EvacuationDetail(
                sort=sort,
                issue_or_lift=issue_or_lift,
                level=level,
                places=tuple(_places(_child(detail, "Areas"), f"{where}.Areas")),
            )
        )
    total = _child(body, "TotalNumber")
    return EvacuationOrder(
        disaster_name=_text(_child(body, "Disaster"), "DisasterName"),
        complementary_info=_text(body, "ComplementaryInfo"),
        head_count=_count(_text(total, "HeadCount")),
        households=_count(_text(total, "Households")),
        details=tuple(details),
    )


def _status(value: str | None, field: str) -> str | None:
    if value is None:
        return None
    status = STATUSES.get(normalize_word(value))
    if status is None:
        raise InvalidInput(
            f"status {value!r} is none of 実運用/訓練/試験 or Actual/Exercise/System/Test",
            field=field,
        )
    return status


def _content_object(distribution: etree._Element) -> etree._Element:
    objects = list(_children(distribution, "contentObject"))
    if not objects:
        raise InvalidInput(
            "the distribution has no contentObject (commons:contentObject)", field="contentObject"
        )
    if len(objects) > 1:
        raise InvalidInput(
            f"the distribution has {len(objects)} contentObjects; an L-Alert message has one",
            field="contentObject",
        )
    return objects[0]


def _report(content: etree._Element) -> etree._Element | None:
    embedded = _child(_child(content, "xmlContent"), "embeddedXMLContent")
    if embedded is None:
        return None
    report = next(embedded.iterchildren(etree.Element), None)
    if report is None:
        return None
    if safexml.local(report) != "Report" or not REPORT_NAMESPACE.match(safexml.namespace(report)):
        raise InvalidInput(
            f"embeddedXMLContent holds {safexml.local(report)} in "
            f"{safexml.namespace(report) or 'no namespace'}, not a pcxml1 Report",
            field="Report",
        )
    return report


def read_message(data: bytes, limit: int) -> CommonsMessage:
    """Parse and check an L-Alert message (bare or SOAP-wrapped) into its parts."""
    root = safexml.parse(data, limit)
    distribution = safexml.find_distribution(root)
    # Only the distribution: a SOAP header may carry transport extensions of its own.
    safexml.check_namespaces(distribution)
    content = _content_object(distribution)
    report = _report(content)
    control = _child(report, "Control")
    head = _child(report, "Head")
    headline = _child(head, "Headline")

    document_id = _identifier(
        _first_text([(content, "documentID"), (head, "documentID")]), "commons:documentID"
    )
    if document_id is None:
        raise InvalidInput("the message has no commons:documentID", field="commons:documentID")
    revision = _revision(
        _first_text([(content, "documentRevision"), (head, "documentRevision")]),
        "commons:documentRevision",
    )
    previous = _revision(
        _first_text([(content, "previousDocumentRevision"), (head, "previousDocumentRevision")]),
        "commons:previousDocumentRevision",
    )
    revision = revision or 1
    if previous is not None and previous >= revision:
        raise InvalidInput(
            f"previousDocumentRevision {previous} is not before documentRevision {revision}",
            field="commons:previousDocumentRevision",
        )
    if previous is None and revision > 1:
        previous = revision - 1
    sent = parse_time(
        _first_text([(distribution, "dateTimeSent"), (head, "CreateDateTime")]),
        "edxlde:dateTimeSent",
    )
    if sent is None:
        raise InvalidInput("the message has no edxlde:dateTimeSent", field="edxlde:dateTimeSent")

    target_codes: list[str] = []
    target_circles: list[Circle] = []
    target_polygons: list[tuple[Coordinate, ...]] = []
    for index, area in enumerate(_children(distribution, "targetArea")):
        where = f"targetArea[{index}]"
        target_codes += [
            text for code in _children(area, "jisX0402") if (text := "".join(code.itertext()))
        ]
        for circle in _children(area, "circle"):
            if safexml.namespace(circle) == EDXL and (text := "".join(circle.itertext())):
                target_circles.append(parse_circle(text, f"{where}.circle"))
        for polygon in _children(area, "polygon"):
            if safexml.namespace(polygon) == EDXL and (text := "".join(polygon.itertext())):
                target_polygons.append(parse_polygon(text, f"{where}.polygon"))

    editorial = _child(control, "EditorialOffice")
    office_info = _child(_child(control, "PublishingOffice"), "OfficeInfo")
    bodies = [
        safexml.local(child)
        for child in (report.iterchildren(etree.Element) if report is not None else [])
        if safexml.local(child) not in ("Control", "Head")
    ]
    evacuation_body = _child(report, EVACUATION_ORDER)
    version = REPORT_NAMESPACE.match(safexml.namespace(report)) if report is not None else None
    return CommonsMessage(
        distribution_id=_text(distribution, "distributionID"),
        sender_id=_identifier(_text(distribution, "senderID"), "edxlde:senderID"),
        sent=sent,
        distribution_status=_status(
            _text(distribution, "distributionStatus"), "edxlde:distributionStatus"
        ),
        distribution_type=_text(distribution, "distributionType"),
        category=_first_text([(content, "category"), (control, "Title")]),
        document_id=document_id,
        revision=revision,
        previous_revision=previous,
        pcxml_version=int(version.group(1)) if version else None,
        control_status=_status(
            _first_text([(control, "distributionStatus"), (control, "Status")]), "Control.Status"
        ),
        office_code=_first_text(
            [(editorial, "OrganizationCode"), (office_info, "OrganizationCode")]
        ),
        office_name=_first_text([(content, "publishingOfficeName"), (office_info, "OfficeName")]),
        organization_name=_first_text(
            [(office_info, "OrganizationName"), (editorial, "OrganizationName")]
        ),
        publishing_office_id=_text(content, "publishingOfficeID"),
        title=_text(head, "Title"),
        headline_text=_text(headline, "Text"),
        content_description=_text(content, "contentDescription"),
        head_places=_places(_child(headline, "Areas"), "Head.Headline.Areas"),
        target_codes=target_codes,
        target_circles=target_circles,
        target_polygons=target_polygons,
        first_created=parse_time(_text(head, "FirstCreateDateTime"), "Head.FirstCreateDateTime"),
        target_time=parse_time(_text(head, "TargetDateTime"), "Head.TargetDateTime"),
        valid_until=parse_time(_text(head, "ValidDateTime"), "Head.ValidDateTime"),
        urgency=_text(content, "urgency"),
        severity=_text(content, "severity"),
        certainty=_text(content, "certainty"),
        evacuation=_evacuation_order(evacuation_body) if evacuation_body is not None else None,
        bodies=bodies,
    )
