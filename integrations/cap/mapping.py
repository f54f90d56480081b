"""CAP fields to our alert content and back: import as IncomingMessage, export from a version."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

import shapely
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

from alerts import IncomingMessage
from alerts.drills import marked_headline
from alerts.schemas import normalize_language
from alerts.service import format_cap_time
from gis import normalize_municipality_code, to_geojson
from integrations.cap.model import DEFAULT_LANGUAGE, Area, CapAlert, Circle, Info, ValuePair
from integrations.cap.parse import ParsedMessage

SOURCE_FORMAT = "cap"
# <geocode> valueName for 全国地方公共団体コード (JIS X 0402), exported with the 6-digit code.
JIS_X_0402 = "JIS X 0402"
# <parameter> valueName for 警戒レベル 1–5; the Japanese name is accepted on import too.
EVACUATION_LEVEL = "EvacuationLevel"
_EVACUATION_NAMES = {"evacuationlevel", "警戒レベル"}
# Our content's limits (alerts.schemas): longer CAP texts are shortened for residents' screens;
# the export gives back the full originals from the payload.
_LIMITS = {"event": 200, "headline": 200, "description": 8000, "instruction": 4000}
# The alert's status as the import seam sets it: System and Draft messages are kept as Test.
_STATUSES = {"Actual": "Actual", "Exercise": "Exercise", "Test": "Test"}


def _clip(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _jis_code(geocode: ValuePair) -> str | None:
    """The 6-digit municipality code a geocode names, if it is a well-formed JIS X 0402 one."""
    if re.sub(r"[\s_\-]", "", geocode.value_name).lower() != "jisx0402":
        return None
    try:
        return normalize_municipality_code(geocode.value)
    except ValueError:
        return None


def evacuation_level(infos: list[Info]) -> int | None:
    """警戒レベル from an EvacuationLevel (or 警戒レベル) parameter, when it is 1–5."""
    for info in infos:
        for parameter in info.parameters:
            if parameter.value_name.strip().lower() in _EVACUATION_NAMES:
                digits = re.findall(r"[1-5]", parameter.value)
                if len(digits) == 1:
                    return int(digits[0])
    return None


def _language(info: Info) -> str:
    tag = info.language or DEFAULT_LANGUAGE
    try:
        return normalize_language(tag)
    except ValueError:
        return tag


def _content_infos(alert: CapAlert) -> list[dict[str, Any]]:
    """One text block per language (our content allows no two in one language)."""
    blocks: dict[str, dict[str, Any]] = {}
    for info in alert.infos:
        language = _language(info)
        if language in blocks:
            continue
        headline = (info.headline or "").strip() or info.event
        description = (info.description or "").strip() or headline
        block: dict[str, Any] = {
            "language": language,
            "headline": _clip(headline, _LIMITS["headline"]),
            "description": _clip(description, _LIMITS["description"]),
        }
        if (info.instruction or "").strip():
            block["instruction"] = _clip(info.instruction or "", _LIMITS["instruction"])
        blocks[language] = block
    if not blocks:
        # A message without <info> (a bare Cancel): residents still need a line to read.
        text = (alert.note or "").strip() or f"{alert.msg_type} from {alert.sender}"
        blocks[DEFAULT_LANGUAGE] = {
            "language": DEFAULT_LANGUAGE,
            "headline": _clip(text, _LIMITS["headline"]),
            "description": _clip(text, _LIMITS["description"]),
        }
    return list(blocks.values())


def _area_geometry(areas: list[Area]) -> BaseGeometry | None:
    """The union of every polygon (lon/lat, repaired if it self-intersects), or None."""
    parts: list[BaseGeometry] = []
    for area in areas:
        for ring in area.polygons:
            polygon = shapely.make_valid(Polygon([(lon, lat) for lat, lon in ring]))
            parts.append(polygon)
    if not parts:
        return None
    union = shapely.union_all(parts)
    polygons = [g for g in shapely.get_parts(union) if g.geom_type in ("Polygon", "MultiPolygon")]
    if not polygons:
        return None  # only degenerate rings (lines, points): nothing to target
    return shapely.union_all(polygons) if len(polygons) > 1 else polygons[0]


def content_of(alert: CapAlert, known_municipality: Callable[[str], bool]) -> dict[str, Any]:
    """Our alert content for a CAP message (first info for the event, every info's texts)."""
    first = alert.infos[0] if alert.infos else None
    areas = [area for info in alert.infos for area in info.areas]
    content: dict[str, Any] = {
        "event": _clip(first.event if first else alert.msg_type, _LIMITS["event"]),
        "category": first.categories[0] if first else "Other",
        "severity": first.severity if first else "Unknown",
        "urgency": first.urgency if first else "Unknown",
        "certainty": first.certainty if first else "Unknown",
        "status": _STATUSES.get(alert.status, "Test"),
        "info": _content_infos(alert),
    }
    level = evacuation_level(alert.infos)
    if level is not None:
        content["evacuation_level"] = level
    onsets = [datetime.fromisoformat(i.onset) for i in alert.infos if i.onset]
    if onsets:
        content["onset"] = min(onsets).isoformat()
    expiries = [datetime.fromisoformat(i.expires) for i in alert.infos if i.expires]
    if expiries:
        # The alert lasts as long as its longest-lived info.
        content["expires"] = max(expiries).isoformat()
    area: dict[str, Any] = {}
    geometry = _area_geometry(areas)
    if geometry is not None:
        area["geometry"] = to_geojson(geometry)
    circles: list[dict[str, float]] = []
    for circle in (c for a in areas for c in a.circles):
        entry = {"lon": circle.lon, "lat": circle.lat, "radius_km": circle.radius_km}
        if entry not in circles:
            circles.append(entry)
    if circles:
        area["circles"] = circles
    codes: list[str] = []
    for geocode in (g for a in areas for g in a.geocodes):
        code = _jis_code(geocode)
        if code is not None and code not in codes and known_municipality(code):
            codes.append(code)
    if codes:
        area["municipality_codes"] = codes
    content["area"] = area
    return content


def to_incoming(
    message: ParsedMessage, known_municipality: Callable[[str], bool]
) -> IncomingMessage:
    """The import seam's message for one parsed CAP alert; the payload keeps all of it."""
    alert = message.alert
    content = content_of(alert, known_municipality)
    codes = content["area"].get("municipality_codes") or []
    return IncomingMessage(
        source_format=SOURCE_FORMAT,
        identifier=alert.identifier,
        sender=alert.sender,
        sent=datetime.fromisoformat(alert.sent),
        status=alert.status,
        msg_type=alert.msg_type,
        content=content,
        references=list(alert.references),
        scope=alert.scope,
        municipality_code=codes[0] if codes else None,
        payload={
            "cap": alert.model_dump(mode="json"),
            "signature": message.signature,
            "container": message.container,
            "source": message.source,
        },
    )


def imported_alert(origin: dict[str, Any] | None) -> CapAlert | None:
    """The CAP message an alert or version was imported from, if it came as CAP."""
    if not origin or origin.get("format") != SOURCE_FORMAT:
        return None
    stored = (origin.get("payload") or {}).get("cap")
    return CapAlert.model_validate(stored) if stored else None


# ---------------------------------------------------------------------------------------------
# Export of our own alerts


def _rings(geometry: dict[str, Any] | None) -> list[list[tuple[float, float]]]:
    """Exterior rings of a GeoJSON Polygon/MultiPolygon as (lat, lon); CAP has no holes."""
    if not geometry:
        return []
    coordinates = geometry.get("coordinates") or []
    polygons = [coordinates] if geometry.get("type") == "Polygon" else coordinates
    return [
        [(float(point[1]), float(point[0])) for point in polygon[0]]
        for polygon in polygons
        if polygon
    ]


def _cap_time(value: str | datetime | None) -> str | None:
    if value is None:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return format_cap_time(moment)


def alert_from_content(
    *,
    identifier: str,
    sender: str,
    sent: datetime,
    status: str,
    msg_type: str,
    references: list[str],
    content: dict[str, Any],
    expires: datetime | str | None,
    sender_name: str,
    municipality_names: dict[str, str],
    area_desc: str | None = None,
) -> CapAlert:
    """A CAP message for one of our versions (or a draft): one <info> per language."""
    area_in = content.get("area") or {}
    codes = list(area_in.get("municipality_codes") or [])
    named = [municipality_names.get(code, code) for code in codes]
    area = Area(
        area_desc=area_desc or (", ".join(named) if named else f"{sender_name}: alert area"),
        polygons=_rings(area_in.get("geometry")),
        circles=[
            Circle(lat=c["lat"], lon=c["lon"], radius_km=c["radius_km"])
            for c in area_in.get("circles") or []
        ],
        geocodes=[ValuePair(value_name=JIS_X_0402, value=code) for code in codes],
    )
    level = content.get("evacuation_level")
    parameters = (
        [ValuePair(value_name=EVACUATION_LEVEL, value=str(level))] if level is not None else []
    )
    infos = [
        Info(
            language=block["language"],
            categories=[content.get("category") or "Other"],
            event=content["event"],
            urgency=content["urgency"],
            severity=content["severity"],
            certainty=content["certainty"],
            onset=_cap_time(content.get("onset")),
            expires=_cap_time(expires),
            sender_name=sender_name,
            # A drill says so in its text too, not only in <status>: people read headlines.
            headline=(
                marked_headline(status, block["language"], block["headline"])
                if block.get("headline")
                else None
            ),
            description=block.get("description"),
            instruction=block.get("instruction"),
            parameters=parameters,
            areas=[area],
        )
        for block in content.get("info") or []
    ]
    return CapAlert(
        identifier=identifier,
        sender=sender,
        sent=format_cap_time(sent),
        status=status,
        msg_type=msg_type,
        scope="Public",
        note=content.get("cancel_reason") if msg_type == "Cancel" else None,
        references=references,
        infos=infos,
    )
