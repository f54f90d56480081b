"""From an L-Alert message to our alert shape (IncomingMessage), field by field."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import shapely
from pydantic import ValidationError
from shapely.geometry.base import BaseGeometry

from alerts import IncomingMessage
from alerts.schemas import AlertContent
from gis import GeometryError, circle_polygon, normalize_municipality_code, parse_area_geometry
from gis import to_geojson as geometry_to_geojson
from integrations.lalert.reader import Circle, CommonsMessage, Coordinate, EvacuationDetail, Place
from integrations.lalert.vocabulary import (
    CAP_CERTAINTIES,
    CAP_SEVERITIES,
    CAP_URGENCIES,
    CATEGORY_LABELS,
    EVACUATION_ORDER,
    ISSUE,
    LEVEL_DEFAULTS,
    LIFT,
    POINT_RADIUS_KM,
    SHELTER,
    normalize_word,
    strongest_level_in,
)
from kizuna.errors import InvalidInput

SOURCE_FORMAT = "lalert"
MAX_CIRCLES = 50  # what an alert's area may hold (alerts.schemas.AreaIn); more become a polygon
DEFAULT_EVENT = "避難情報"
# Without a Head/ValidDateTime an order stands for a day: the lift term LGDIS uses (lift_term: 24).
DEFAULT_VALIDITY = timedelta(hours=24)


@dataclass(frozen=True)
class Skipped:
    """A well-formed message we do not turn into an alert, and why."""

    reason: str
    category: str | None


def identifier(document_id: str, revision: int) -> str:
    """Our identifier of one revision of an L-Alert document: `documentID#revision`."""
    return f"{document_id}#{revision}"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _municipality(code: str, field: str) -> str:
    try:
        return normalize_municipality_code(code)
    except ValueError as exc:
        raise InvalidInput(f"jisX0402 {code!r}: {exc}", field=field) from None


def _detail_places(message: CommonsMessage) -> list[Place]:
    return [
        place
        for detail in (message.evacuation.details if message.evacuation else ())
        for place in detail.places
    ]


def municipality_of(message: CommonsMessage) -> str:
    """The sending municipality: the envelope's targetArea first, then the Head, Detail areas
    and the publishing office."""
    candidates: list[tuple[str | None, str]] = [
        (code, f"commons:targetArea[{index}].jisX0402")
        for index, code in enumerate(message.target_codes)
    ]
    candidates += [(place.jis_x0402, f"{place.where}.jisX0402") for place in message.head_places]
    candidates += [(p.jis_x0402, f"{p.where}.jisX0402") for p in _detail_places(message)]
    candidates += [
        (message.publishing_office_id, "commons:publishingOfficeID"),
        (message.office_code, "Control.EditorialOffice.OrganizationCode"),
    ]
    for code, field in candidates:
        if code:
            return _municipality(code, field)
    raise InvalidInput(
        "the message names no municipality (commons:targetArea/commons:jisX0402)",
        field="commons:jisX0402",
    )


def skip_reason(message: CommonsMessage) -> Skipped | None:
    """Why a message carries no evacuation order for us to import (None when it does)."""
    if message.evacuation is not None or message.category == EVACUATION_ORDER:
        if message.distribution_type not in (None, "Report", "Update", "Cancel"):
            return Skipped(
                f"distributionType {message.distribution_type} carries no alert to import",
                message.category,
            )
        return None
    if message.category == SHELTER or SHELTER in message.bodies:
        return Skipped("shelter messages (避難所情報) are not imported yet", SHELTER)
    category = message.category or (message.bodies[0] if message.bodies else "(none)")
    return Skipped(
        f"category {category} is not imported; only EvacuationOrder (避難勧告・指示情報) is",
        category,
    )


@dataclass(frozen=True)
class Decision:
    """What the Details (or, without any, the Headline text) say: level, 発令 or 解除."""

    level: int | None
    lifted: bool
    sort: str | None
    level_source: str | None
    details: tuple[EvacuationDetail, ...]


def decide(message: CommonsMessage) -> Decision:
    """The alert's level and whether it is lifted.

    Details in force (発令) decide: the highest level among them, over their areas. Only when
    every Detail is 解除 is the alert lifted. A message without Details (the minimal samples)
    falls back to the 発令区分 its Headline text names.
    """
    details = message.evacuation.details if message.evacuation else ()
    issued = tuple(d for d in details if not d.lifted)
    if details:
        chosen = issued or details
        top = max(chosen, key=lambda d: d.level or 0)
        return Decision(top.level, not issued, top.sort, "Sort", chosen)
    text = " ".join(t for t in (message.headline_text, message.content_description) if t)
    words = normalize_word(" ".join(t for t in (message.title, text) if t))
    level = strongest_level_in(text)
    return Decision(
        level,
        LIFT in words and ISSUE not in words,
        None,
        "Headline" if level is not None else None,
        (),
    )


def _circle(circle: Circle) -> dict[str, float]:
    radius = circle.radius_km if circle.radius_km > 0 else POINT_RADIUS_KM
    return {"lon": circle.lon, "lat": circle.lat, "radius_km": radius}


def _polygon(points: tuple[Coordinate, ...], field: str) -> BaseGeometry:
    ring = [[lon, lat] for lat, lon in points]
    try:
        return parse_area_geometry({"type": "Polygon", "coordinates": [ring]}, field=field)
    except GeometryError as exc:
        raise InvalidInput(exc.message, field=field) from None


def area_of(message: CommonsMessage, decision: Decision, municipality: str) -> dict[str, Any]:
    """The alert area: circles and polygons of the Detail areas; an area with neither (only a
    municipality or a 町丁目 we cannot place) stands for its whole municipality."""
    circles: list[Circle] = []
    polygons: list[BaseGeometry] = []
    codes: list[tuple[str, str]] = []
    places = [place for detail in decision.details for place in detail.places]
    for place in places:
        circles += place.circles
        polygons += [_polygon(points, f"{place.where}.polygon") for points in place.polygons]
        if not place.has_shape:
            codes.append((place.jis_x0402 or municipality, f"{place.where}.jisX0402"))
    if not places:
        circles = list(message.target_circles)
        polygons = [
            _polygon(points, f"targetArea.polygon[{index}]")
            for index, points in enumerate(message.target_polygons)
        ]
        if not circles and not polygons:
            codes = [
                (code, f"commons:targetArea[{index}].jisX0402")
                for index, code in enumerate(message.target_codes)
            ] + [(p.jis_x0402, f"{p.where}.jisX0402") for p in message.head_places if p.jis_x0402]
            codes = codes or [(municipality, "commons:jisX0402")]
    circle_dicts = [_circle(circle) for circle in circles]
    if len(circle_dicts) > MAX_CIRCLES:
        # An alert holds at most 50 circles; a message listing more 町丁目 points becomes one
        # merged polygon of the same circles.
        polygons += [circle_polygon(c["lon"], c["lat"], c["radius_km"]) for c in circle_dicts]
        circle_dicts = []
    municipality_codes = list(dict.fromkeys(_municipality(code, field) for code, field in codes))
    geometry = shapely.union_all(polygons) if polygons else None
    return {
        "geometry": geometry_to_geojson(geometry) if geometry is not None else None,
        "circles": circle_dicts or None,
        "municipality_codes": municipality_codes or None,
    }


def _place_payload(place: Place) -> dict[str, Any]:
    return {
        "name": place.name,
        "jisX0402": place.jis_x0402,
        "chome_code": place.chome_code,
        "circles": [[c.lat, c.lon, c.radius_km] for c in place.circles],
        "polygons": [[list(point) for point in polygon] for polygon in place.polygons],
        "date_time": place.date_time,
        "head_count": place.head_count,
        "households": place.households,
    }


def payload_of(message: CommonsMessage, decision: Decision) -> dict[str, Any]:
    """Everything an export needs to say the message again: ids, 発令区分 per Detail, 町丁目."""
    evacuation = message.evacuation
    return {
        "document_id": message.document_id,
        "revision": message.revision,
        "previous_revision": message.previous_revision,
        "distribution_id": message.distribution_id,
        "distribution_type": message.distribution_type,
        "category": EVACUATION_ORDER,
        "pcxml_version": message.pcxml_version,
        "level_source": decision.level_source,
        "title": message.title,
        "office": {
            "code": message.office_code,
            "name": message.office_name,
            "organization": message.organization_name,
        },
        "disaster_name": evacuation.disaster_name if evacuation else None,
        "complementary_info": evacuation.complementary_info if evacuation else None,
        "total": {
            "head_count": evacuation.head_count if evacuation else None,
            "households": evacuation.households if evacuation else None,
        },
        "details": [
            {
                "sort": detail.sort,
                "issue_or_lift": detail.issue_or_lift,
                "level": detail.level,
                "places": [_place_payload(place) for place in detail.places],
            }
            for detail in (evacuation.details if evacuation else ())
        ],
        "head_places": [_place_payload(place) for place in message.head_places],
    }


def _cap_value(value: str | None, allowed: tuple[str, ...], default: str) -> str:
    return value if value in allowed else default


def _check_content(content: dict[str, Any]) -> None:
    """The content must be an alert an officer can later update or issue as it stands."""
    try:
        AlertContent.model_validate(content)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise InvalidInput(
            f"the message maps to an invalid alert: {where}: {first['msg']}"
        ) from None


def to_incoming(message: CommonsMessage) -> IncomingMessage:
    """The alert an EvacuationOrder message stands for (call `skip_reason` first)."""
    municipality = municipality_of(message)
    decision = decide(message)
    msg_type = (
        "Cancel"
        if message.distribution_type == "Cancel" or decision.lifted
        else ("Alert" if message.revision == 1 else "Update")
    )
    status = message.status
    severity, urgency, certainty = LEVEL_DEFAULTS[decision.level]
    evacuation = message.evacuation
    headline = (
        message.title
        or (f"{decision.sort} {LIFT if decision.lifted else ISSUE}" if decision.sort else None)
        or CATEGORY_LABELS[EVACUATION_ORDER]
    )
    description = message.headline_text or message.content_description or headline
    instruction = evacuation.complementary_info if evacuation else None
    content: dict[str, Any] = {
        "event": _clip((evacuation.disaster_name if evacuation else None) or DEFAULT_EVENT, 200),
        "category": "Safety",
        "severity": _cap_value(message.severity, CAP_SEVERITIES, severity),
        "urgency": _cap_value(message.urgency, CAP_URGENCIES, urgency),
        "certainty": _cap_value(message.certainty, CAP_CERTAINTIES, certainty),
        "status": status,
        "evacuation_level": decision.level,
        "onset": message.target_time.isoformat() if message.target_time else None,
        "expires": (message.valid_until or message.sent + DEFAULT_VALIDITY).isoformat(),
        "area": area_of(message, decision, municipality),
        "info": [
            {
                "language": "ja",
                "headline": _clip(headline, 200),
                "description": _clip(description, 8000),
                "instruction": _clip(instruction, 4000) if instruction else None,
            }
        ],
    }
    _check_content(content)
    sender = message.sender_id or (
        f"lalert:{message.publishing_office_id or message.office_code or municipality}"
    )
    references = (
        [f"{sender},{identifier(message.document_id, message.previous_revision)}"]
        if message.previous_revision is not None
        else []
    )
    return IncomingMessage(
        source_format=SOURCE_FORMAT,
        identifier=identifier(message.document_id, message.revision),
        sender=sender,
        sent=message.sent,
        status=status,
        msg_type=msg_type,
        content=content,
        references=references,
        municipality_code=municipality,
        payload=payload_of(message, decision),
    )
