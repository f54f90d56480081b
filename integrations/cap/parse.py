"""Reading CAP: one alert, or several in an Atom feed, EDXL-DE distribution or <alerts> list."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from lxml import etree

from alerts.service import format_cap_time
from gis import GeometryError, circle_polygon
from integrations.cap.model import (
    ATOM,
    CAP10,
    CAP11,
    CAP12,
    EDXL_DE,
    Area,
    CapAlert,
    Circle,
    Info,
    Resource,
    ValuePair,
)
from integrations.cap.signature import verify_signature
from integrations.cap.xmldoc import element_path, parse_document, validate_alert
from integrations.xml import check_size, local_name, safe_parser
from kizuna.errors import InvalidInput

OLD_VERSIONS = {CAP11: "CAP 1.1", CAP10: "CAP 1.0"}
_PAIR = re.compile(r"\s*,\s*")


@dataclass
class ParsedMessage:
    """One CAP alert read from a document, with where it came from and its signature check."""

    alert: CapAlert
    signature: dict[str, Any] | None = None
    # How it arrived: "alert", "alerts" (the non-standard list), "atom", "edxl-de".
    container: str = "alert"
    source: dict[str, Any] = field(default_factory=dict)


def read_messages(data: bytes, max_bytes: int, base_dir: Path | None = None) -> list[ParsedMessage]:
    """Every CAP alert in a document; any bad one refuses the whole document.

    `base_dir` is where an Atom feed's relative links are looked up (the CLI passes the feed
    file's folder); without it, links are not followed.
    """
    root = parse_document(data, max_bytes)
    return messages_in(root, max_bytes, base_dir)


def messages_in(
    root: etree._Element, max_bytes: int, base_dir: Path | None, follow_links: bool = True
) -> list[ParsedMessage]:
    """The CAP alerts a parsed document holds, by what its root element is."""
    name = local_name(root)
    namespace = etree.QName(root).namespace
    if root.tag == f"{{{ATOM}}}feed":
        if not follow_links:
            raise InvalidInput("a linked file is a feed itself; link CAP messages", field="link")
        return _from_atom(root, max_bytes, base_dir)
    if root.tag == f"{{{ATOM}}}entry":
        return _from_atom_entry(root, 0, None, max_bytes, base_dir if follow_links else None)
    if root.tag == f"{{{EDXL_DE}}}EDXLDistribution":
        return _from_edxl(root)
    if name == "alerts":
        alerts = [child for child in root if isinstance(child.tag, str)]
        if not alerts:
            raise InvalidInput("the <alerts> list holds no alert", field="alerts")
        return [parse_alert(child, container="alerts") for child in alerts]
    if name == "alert":
        return [parse_alert(root)]
    shown = f"{{{namespace}}}{name}" if namespace else name
    raise InvalidInput(
        f"not a CAP message: the root element {shown} is neither a CAP 1.2 <alert> nor an Atom "
        "feed, EDXL-DE distribution or <alerts> list holding CAP alerts",
        field="root",
    )


def parse_alert(
    element: etree._Element, container: str = "alert", source: dict[str, Any] | None = None
) -> ParsedMessage:
    """Check one <alert> (version, schema, signature, CAP's own rules) and read it."""
    _check_version(element)
    validate_alert(element)
    signature = verify_signature(element)
    return ParsedMessage(
        alert=_read_alert(element),
        signature=signature.as_dict() if signature else None,
        container=container,
        source=source or {},
    )


def _check_version(element: etree._Element) -> None:
    namespace = etree.QName(element).namespace
    if local_name(element) != "alert":
        raise InvalidInput(
            f"line {element.sourceline}: <{local_name(element)}> is not a CAP alert",
            field="alert",
        )
    if namespace in OLD_VERSIONS:
        version = OLD_VERSIONS[namespace]
        raise InvalidInput(f"{version} is not accepted; send CAP 1.2", field="alert")
    if namespace != CAP12:
        shown = namespace or "no namespace"
        raise InvalidInput(
            f"line {element.sourceline}: unknown namespace {shown} on <alert>; CAP 1.2 is {CAP12}",
            field="alert",
        )


# ---------------------------------------------------------------------------------------------
# One alert (already schema-valid: required elements exist, enumerations and times are right)


def _q(name: str) -> str:
    return f"{{{CAP12}}}{name}"


def _text(parent: etree._Element, name: str) -> str | None:
    found = parent.find(_q(name))
    if found is None:
        return None
    return found.text or ""


def _required(parent: etree._Element, name: str) -> str:
    value = _text(parent, name)
    if value is None:  # the schema check comes first, so only a bug in it lands here
        raise InvalidInput(f"line {parent.sourceline}: <{name}> is required", field=name)
    return value.strip()


def _texts(parent: etree._Element, name: str) -> list[str]:
    return [(child.text or "").strip() for child in parent.findall(_q(name))]


def _pairs(parent: etree._Element, name: str) -> list[ValuePair]:
    return [
        ValuePair(
            value_name=(_text(child, "valueName") or "").strip(),
            value=(_text(child, "value") or "").strip(),
        )
        for child in parent.findall(_q(name))
    ]


def _optional(parent: etree._Element, name: str) -> str | None:
    value = _text(parent, name)
    return value.strip() if value is not None else None


def _read_alert(element: etree._Element) -> CapAlert:
    msg_type = _required(element, "msgType")
    references = (_text(element, "references") or "").split()
    if msg_type in ("Update", "Cancel") and not references:
        raise InvalidInput(
            f"line {element.sourceline}: a CAP {msg_type} must name the messages it changes "
            "in <references>",
            field="alert.references",
        )
    for reference in references:
        if len(reference.split(",")) != 3:
            line = element.find(_q("references"))
            raise InvalidInput(
                f"line {line.sourceline if line is not None else '?'}: reference "
                f"{reference!r} is not sender,identifier,sent",
                field="alert.references",
            )
    return CapAlert(
        identifier=_required(element, "identifier"),
        sender=_required(element, "sender"),
        sent=_required(element, "sent"),
        status=_required(element, "status"),
        msg_type=msg_type,
        source=_optional(element, "source"),
        scope=_required(element, "scope"),
        restriction=_optional(element, "restriction"),
        addresses=_optional(element, "addresses"),
        codes=_texts(element, "code"),
        note=_optional(element, "note"),
        references=references,
        incidents=_optional(element, "incidents"),
        infos=[_read_info(info) for info in element.findall(_q("info"))],
    )


def _read_info(element: etree._Element) -> Info:
    # Texts are kept exactly as sent (only the surrounding whitespace of a value is dropped):
    # an export must give them back unchanged.
    return Info(
        language=_optional(element, "language"),
        categories=_texts(element, "category"),
        event=_required(element, "event"),
        response_types=_texts(element, "responseType"),
        urgency=_required(element, "urgency"),
        severity=_required(element, "severity"),
        certainty=_required(element, "certainty"),
        audience=_text(element, "audience"),
        event_codes=_pairs(element, "eventCode"),
        effective=_optional(element, "effective"),
        onset=_optional(element, "onset"),
        expires=_optional(element, "expires"),
        sender_name=_text(element, "senderName"),
        headline=_text(element, "headline"),
        description=_text(element, "description"),
        instruction=_text(element, "instruction"),
        web=_optional(element, "web"),
        contact=_text(element, "contact"),
        parameters=_pairs(element, "parameter"),
        resources=[_read_resource(r) for r in element.findall(_q("resource"))],
        areas=[_read_area(area) for area in element.findall(_q("area"))],
    )


def _read_resource(element: etree._Element) -> Resource:
    return Resource(
        resource_desc=_required(element, "resourceDesc"),
        mime_type=_required(element, "mimeType"),
        size=_optional(element, "size"),
        uri=_optional(element, "uri"),
        deref_uri=_optional(element, "derefUri"),
        digest=_optional(element, "digest"),
    )


def _read_area(element: etree._Element) -> Area:
    return Area(
        area_desc=_text(element, "areaDesc") or "",
        polygons=[_read_polygon(p) for p in element.findall(_q("polygon"))],
        circles=[_read_circle(c) for c in element.findall(_q("circle"))],
        geocodes=_pairs(element, "geocode"),
        altitude=_optional(element, "altitude"),
        ceiling=_optional(element, "ceiling"),
    )


def _refuse(element: etree._Element, problem: str) -> InvalidInput:
    return InvalidInput(f"line {element.sourceline}: {problem}", field=element_path(element))


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _point(element: etree._Element, text: str, index: int) -> tuple[float, float]:
    parts = text.split(",")
    numbers = [_number(part) for part in parts] if len(parts) == 2 else []
    if len(numbers) != 2 or numbers[0] is None or numbers[1] is None:
        raise _refuse(element, f"point {index + 1} ({text[:40]!r}) is not 'lat,lon'")
    lat, lon = numbers[0], numbers[1]
    if not -90.0 <= lat <= 90.0:
        raise _refuse(element, f"point {index + 1}: latitude {lat} is outside [-90, 90]")
    if not -180.0 <= lon <= 180.0:
        raise _refuse(element, f"point {index + 1}: longitude {lon} is outside [-180, 180]")
    return lat, lon


def _read_polygon(element: etree._Element) -> list[tuple[float, float]]:
    # CAP: "lat,lon" pairs separated by whitespace; some senders put a space after the comma.
    tokens = _PAIR.sub(",", (element.text or "").strip()).split()
    ring = [_point(element, token, index) for index, token in enumerate(tokens)]
    if len(ring) < 4:
        raise _refuse(
            element, f"a polygon needs at least 4 points (the first repeated last), got {len(ring)}"
        )
    if ring[0] != ring[-1]:
        first, last = ring[0], ring[-1]
        raise _refuse(
            element,
            f"polygon is not closed: first point {first[0]},{first[1]} "
            f"differs from last {last[0]},{last[1]}",
        )
    return ring


def _read_circle(element: etree._Element) -> Circle:
    text = _PAIR.sub(",", (element.text or "").strip())
    parts = text.split()
    if len(parts) != 2:
        raise _refuse(element, f"circle {text[:60]!r} is not 'lat,lon radius'")
    lat, lon = _point(element, parts[0], 0)
    radius = _number(parts[1])
    if radius is None or radius < 0:
        raise _refuse(element, f"circle radius {parts[1][:20]!r} is not kilometres >= 0")
    try:
        # The same limits the alert area applies (no pole inside, not across ±180°, ≤ 1000 km).
        circle_polygon(lon, lat, max(radius, 0.01))
    except GeometryError as exc:
        raise _refuse(element, f"circle: {exc.message}") from None
    return Circle(lat=lat, lon=lon, radius_km=radius)


# ---------------------------------------------------------------------------------------------
# Containers


def _cap_alerts_below(element: etree._Element) -> list[etree._Element]:
    return [
        node
        for node in element.iter()
        if isinstance(node.tag, str) and node is not element and local_name(node) == "alert"
    ]


def _from_edxl(root: etree._Element) -> list[ParsedMessage]:
    alerts: list[etree._Element] = []
    for content in root.iter(f"{{{EDXL_DE}}}embeddedXMLContent"):
        alerts.extend(child for child in content if isinstance(child.tag, str))
    if not alerts:
        raise InvalidInput(
            "the EDXL-DE distribution holds no CAP alert in embeddedXMLContent",
            field="EDXLDistribution",
        )
    return [parse_alert(alert, container="edxl-de") for alert in alerts]


def _from_atom(root: etree._Element, max_bytes: int, base_dir: Path | None) -> list[ParsedMessage]:
    entries = root.findall(f"{{{ATOM}}}entry")
    if not entries:
        raise InvalidInput("the Atom feed has no entry", field="feed")
    messages: list[ParsedMessage] = []
    for index, entry in enumerate(entries):
        messages.extend(_from_atom_entry(entry, index, root, max_bytes, base_dir))
    return messages


def _from_atom_entry(
    entry: etree._Element,
    index: int,
    feed: etree._Element | None,
    max_bytes: int,
    base_dir: Path | None,
) -> list[ParsedMessage]:
    entry_id = (entry.findtext(f"{{{ATOM}}}id") or "").strip()
    source = {"entry": entry_id} if entry_id else {}
    embedded = _cap_alerts_below(entry)
    if embedded:
        return [parse_alert(alert, container="atom", source=source) for alert in embedded]
    href = _cap_link(entry)
    where = f"feed entry {index}" + (f" ({entry_id})" if entry_id else "")
    if href is not None:
        path = _local_target(href, base_dir)
        if path is not None:
            if not path.is_file():
                raise InvalidInput(
                    f"{where} links {href}, which is not a file next to the feed",
                    field=f"feed.entry[{index}].link",
                )
            check_size(path.stat().st_size, max_bytes, f"linked file {href}")
            root = parse_document(path.read_bytes(), max_bytes, what=f"linked file {href}")
            linked = messages_in(root, max_bytes, path.parent, follow_links=False)
            for message in linked:
                message.container = "atom"
                message.source = {**source, "link": href}
            return linked
    index_alert = _index_entry_alert(entry, feed)
    if index_alert is not None:
        try:
            message = parse_alert(
                index_alert, container="atom", source={**source, "index_entry": True}
            )
        except InvalidInput as exc:
            raise InvalidInput(f"{where}: {exc.message}", field=f"feed.entry[{index}]") from None
        if href is not None:
            message.source["link"] = href
        return [message]
    if href is not None:
        raise InvalidInput(
            f"{where} links its CAP at {href}, which is not fetched: embed the CAP in the entry, "
            "or import the feed with `kizuna cap import` beside the files it links",
            field=f"feed.entry[{index}].link",
        )
    raise InvalidInput(f"{where} holds no CAP alert and links none", field=f"feed.entry[{index}]")


def _cap_link(entry: etree._Element) -> str | None:
    links = [link for link in entry.findall(f"{{{ATOM}}}link") if link.get("href")]
    for link in links:
        if (link.get("type") or "").split(";")[0].strip() == "application/cap+xml":
            return link.get("href")
    for link in links:
        if link.get("rel", "alternate") in ("alternate", "enclosure", "related"):
            return link.get("href")
    return None


def _local_target(href: str, base_dir: Path | None) -> Path | None:
    """A link's file beside the feed: only relative links, and only when a folder is given."""
    if base_dir is None:
        return None
    parts = urlsplit(href)
    if parts.scheme or parts.netloc or parts.path.startswith("/") or not parts.path:
        # Absolute URLs are never fetched: the importer does not reach the network.
        return None
    return base_dir / unquote(parts.path)


# CAP index feeds (like the US NWS one) repeat a message's main fields in each entry, in the
# CAP namespace of their day; with the full message out of reach they are all we have.
_INDEX_FIELDS = (
    "status",
    "msgType",
    "category",
    "event",
    "urgency",
    "severity",
    "certainty",
    "effective",
    "onset",
    "expires",
)


def _index_entry_alert(entry: etree._Element, feed: etree._Element | None) -> etree._Element | None:
    """A CAP 1.2 <alert> made of an index entry's CAP fields, or None if it has none."""
    fields: dict[str, etree._Element] = {}
    for node in entry:
        namespace = etree.QName(node).namespace if isinstance(node.tag, str) else None
        if namespace in (CAP12, CAP11):
            fields.setdefault(local_name(node), node)
    if "status" not in fields and "msgType" not in fields:
        return None

    def value(name: str) -> str | None:
        node = fields.get(name)
        return (node.text or "").strip() if node is not None else None

    def atom(name: str, parent: etree._Element | None = entry) -> str | None:
        found = parent.findtext(f"{{{ATOM}}}{name}") if parent is not None else None
        return found.strip() if found else None

    author = entry.find(f"{{{ATOM}}}author")
    if author is None and feed is not None:
        author = feed.find(f"{{{ATOM}}}author")
    sender = atom("name", author) if author is not None else None
    alert = etree.Element(_q("alert"), nsmap={None: CAP12})

    def add(parent: etree._Element, name: str, text: str | None) -> etree._Element | None:
        if text is None:
            return None
        child = etree.SubElement(parent, _q(name))
        child.text = text
        return child

    add(alert, "identifier", atom("id") or "")
    add(alert, "sender", sender or "unknown")
    add(alert, "sent", _cap_time(atom("published") or atom("updated")) or "")
    add(alert, "status", value("status") or "Actual")
    add(alert, "msgType", value("msgType") or "Alert")
    add(alert, "scope", "Public")
    info = etree.SubElement(alert, _q("info"))
    language = entry.get("{http://www.w3.org/XML/1998/namespace}lang")
    add(info, "language", language)
    add(info, "category", value("category") or "Other")
    add(info, "event", value("event") or atom("title") or "")
    add(info, "urgency", value("urgency") or "Unknown")
    add(info, "severity", value("severity") or "Unknown")
    add(info, "certainty", value("certainty") or "Unknown")
    for name in ("effective", "onset", "expires"):
        add(info, name, _cap_time(value(name)))
    add(info, "headline", atom("title"))
    add(info, "description", atom("summary"))
    area_desc = value("areaDesc")
    polygons = [n for n in entry if isinstance(n.tag, str) and local_name(n) == "polygon"]
    geocodes = [n for n in entry if isinstance(n.tag, str) and local_name(n) == "geocode"]
    if area_desc is not None or polygons or geocodes:
        area = etree.SubElement(info, _q("area"))
        add(area, "areaDesc", area_desc or "")
        for polygon in polygons:
            if (polygon.text or "").strip():
                add(area, "polygon", (polygon.text or "").strip())
        for geocode in geocodes:
            code = etree.SubElement(area, _q("geocode"))
            add(code, "valueName", (geocode.findtext("{*}valueName") or "").strip())
            add(code, "value", (geocode.findtext("{*}value") or "").strip())
    # Give the made-up alert real line numbers, so errors about it point somewhere.
    return etree.fromstring(etree.tostring(alert, pretty_print=True), safe_parser())


def _cap_time(text: str | None) -> str | None:
    """An Atom date as a CAP time (offset instead of "Z", whole seconds); None if unreadable."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return format_cap_time(moment)
