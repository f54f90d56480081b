"""Hostile-input-safe XML parsing for L-Alert messages: size, DTDs, entities, namespaces."""

from __future__ import annotations

from lxml import etree

from integrations.lalert.vocabulary import (
    EDXL,
    KNOWN_NAMESPACES,
    PUBLICCOMMONS_PREFIX,
    SOAP_ENVELOPES,
)
from kizuna.errors import InvalidInput, KizunaError


class TooLarge(KizunaError):
    """A message over settings.max_xml_bytes: refused before it is parsed."""

    status_code = 413
    code = "too_large"


def check_size(size: int, limit: int) -> None:
    """Refuse a body of `size` bytes when it is over `limit`."""
    if size > limit:
        raise TooLarge(f"XML message is {size} bytes, over the limit of {limit}", field="body")


def _parser() -> etree.XMLParser:
    # No entity expansion, no DTD loading, no network, libxml2's default size/depth limits.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        dtd_validation=False,
        remove_pis=True,
        remove_comments=True,
    )


def parse(data: bytes, limit: int) -> etree._Element:
    """Parse an XML document safely; any DTD (so any entity declaration) is refused."""
    check_size(len(data), limit)
    if not data.strip():
        raise InvalidInput("the body is empty; send an L-Alert XML message", field="body")
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise InvalidInput(f"not well-formed XML: {exc}", field="body") from None
    docinfo = root.getroottree().docinfo
    if docinfo.internalDTD is not None or docinfo.doctype:
        raise InvalidInput(
            "XML with a DOCTYPE is refused (entity declarations are an attack vector)",
            field="body",
        )
    return root


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
