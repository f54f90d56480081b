"""Hostile-input-safe XML parsing for L-Alert messages: size, DTDs, entities, namespaces."""

from __future__ import annotations

from lxml import etree

from integrations.lalert.vocabulary import (
    EDXL,
    KNOWN_NAMESPACES,
    PUBLICCOMMONS_PREFIX,
    SOAP_ENVELOPES,
)
from integrations.xml import parse_untrusted
from kizuna.errors import InvalidInput


def parse(data: bytes, limit: int) -> etree._Element:
    """Parse an L-Alert message safely; any DTD (so any entity declaration) is refused."""
    return parse_untrusted(data, limit, "body", remove_comments=True)


def namespace(element: etree._Element) -> str:
    """The namespace URI of an element ('' when it has none)."""
    return etree.QName(element).namespace or ""


def local(element: etree._Element) -> str:
    """The local name of an element, whatever prefix it was written with."""
    return etree.QName(element).localname


def check_namespaces(root: etree._Element) -> None:
    """Refuse any element outside EDXL-DE, SOAP and the 公共情報コモンズ namespaces."""
    for element in root.iter(etree.Element):
        uri = namespace(element)
        if uri in KNOWN_NAMESPACES or uri.startswith(PUBLICCOMMONS_PREFIX):
            continue
        shown = f"{{{uri}}}" if uri else "(no namespace) "
        raise InvalidInput(
            f"unknown namespace: element {shown}{local(element)} is neither EDXL-DE nor "
            "公共情報コモンズ",
            field=local(element),
        )


def find_distribution(root: etree._Element) -> etree._Element:
    """The EDXLDistribution: the root itself, or inside a SOAP publish envelope."""
    if namespace(root) == EDXL and local(root) == "EDXLDistribution":
        return root
    if namespace(root) in SOAP_ENVELOPES and local(root) == "Envelope":
        for element in root.iter(f"{{{EDXL}}}EDXLDistribution"):
            return element
        raise InvalidInput(
            "the SOAP envelope carries no edxlde:EDXLDistribution", field="EDXLDistribution"
        )
    raise InvalidInput(
        f"root element {local(root)} ({namespace(root) or 'no namespace'}) is not an "
        f"EDXL-DE distribution ({{{EDXL}}}EDXLDistribution)",
        field="EDXLDistribution",
    )
