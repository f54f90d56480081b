"""Writing CAP 1.2 XML from the plain model, in the element order the schema requires."""

from __future__ import annotations

import re

from lxml import etree

from integrations.cap.model import CAP12, Area, CapAlert, Info, ValuePair

# Characters XML 1.0 cannot carry at all; an alert text holding one loses it rather than fail.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _q(name: str) -> str:
    return f"{{{CAP12}}}{name}"


def _add(parent: etree._Element, name: str, text: str | None) -> None:
    if text is None:
        return
    child = etree.SubElement(parent, _q(name))
    child.text = _NOT_XML.sub("", text)


def _add_pairs(parent: etree._Element, name: str, pairs: list[ValuePair]) -> None:
    for pair in pairs:
        child = etree.SubElement(parent, _q(name))
        _add(child, "valueName", pair.value_name)
        _add(child, "value", pair.value)


def format_coordinate(value: float) -> str:
    """A degree value as CAP writes it: plain decimal, never an exponent."""
    text = repr(float(value))
    if "e" in text or "E" in text:
        text = f"{value:.7f}".rstrip("0").rstrip(".")
    return text


def format_polygon(ring: list[tuple[float, float]]) -> str:
    """A ring of (lat, lon) as CAP's "lat,lon lat,lon ..."."""
    return " ".join(f"{format_coordinate(lat)},{format_coordinate(lon)}" for lat, lon in ring)


def _area(parent: etree._Element, area: Area) -> None:
    element = etree.SubElement(parent, _q("area"))
    _add(element, "areaDesc", area.area_desc)
    for ring in area.polygons:
        _add(element, "polygon", format_polygon(ring))
    for circle in area.circles:
        _add(
            element,
            "circle",
            f"{format_coordinate(circle.lat)},{format_coordinate(circle.lon)} "
            f"{format_coordinate(circle.radius_km)}",
        )
    _add_pairs(element, "geocode", area.geocodes)
    _add(element, "altitude", area.altitude)
    _add(element, "ceiling", area.ceiling)


def _info(parent: etree._Element, info: Info) -> None:
    element = etree.SubElement(parent, _q("info"))
    _add(element, "language", info.language)
    for category in info.categories:
        _add(element, "category", category)
    _add(element, "event", info.event)
    for response in info.response_types:
        _add(element, "responseType", response)
    _add(element, "urgency", info.urgency)
    _add(element, "severity", info.severity)
    _add(element, "certainty", info.certainty)
    _add(element, "audience", info.audience)
    _add_pairs(element, "eventCode", info.event_codes)
    _add(element, "effective", info.effective)
    _add(element, "onset", info.onset)
    _add(element, "expires", info.expires)
    _add(element, "senderName", info.sender_name)
    _add(element, "headline", info.headline)
    _add(element, "description", info.description)
    _add(element, "instruction", info.instruction)
    _add(element, "web", info.web)
    _add(element, "contact", info.contact)
    _add_pairs(element, "parameter", info.parameters)
    for resource in info.resources:
        child = etree.SubElement(element, _q("resource"))
        _add(child, "resourceDesc", resource.resource_desc)
        _add(child, "mimeType", resource.mime_type)
        _add(child, "size", resource.size)
        _add(child, "uri", resource.uri)
        _add(child, "derefUri", resource.deref_uri)
        _add(child, "digest", resource.digest)
    for area in info.areas:
        _area(element, area)


def alert_element(alert: CapAlert) -> etree._Element:
    """The <alert> element of a message."""
    root = etree.Element(_q("alert"), nsmap={None: CAP12})
    _add(root, "identifier", alert.identifier)
    _add(root, "sender", alert.sender)
    _add(root, "sent", alert.sent)
    _add(root, "status", alert.status)
    _add(root, "msgType", alert.msg_type)
    _add(root, "source", alert.source)
    _add(root, "scope", alert.scope)
    _add(root, "restriction", alert.restriction)
    _add(root, "addresses", alert.addresses)
    for code in alert.codes:
        _add(root, "code", code)
    _add(root, "note", alert.note)
    if alert.references:
        _add(root, "references", " ".join(alert.references))
    _add(root, "incidents", alert.incidents)
    for info in alert.infos:
        _info(root, info)
    return root


def render_alert(alert: CapAlert) -> bytes:
    """A CAP 1.2 XML document (UTF-8, with declaration)."""
    return etree.tostring(
        alert_element(alert), xml_declaration=True, encoding="UTF-8", pretty_print=True
    )
