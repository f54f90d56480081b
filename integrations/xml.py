"""Parsing XML from outside without trusting it: size first, no DTD, no entities, no network."""

from __future__ import annotations

from lxml import etree

from kizuna.errors import InvalidInput, KizunaError


class TooLarge(KizunaError):
    """A document over settings.max_xml_bytes: refused before it is parsed."""

    status_code = 413
    code = "too_large"


def safe_parser(
    *, remove_blank_text: bool = False, remove_comments: bool = False
) -> etree.XMLParser:
    """A parser that fetches nothing, expands no entity and refuses huge trees."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_blank_text=remove_blank_text,
        remove_comments=remove_comments,
        remove_pis=remove_comments,
    )


def check_size(size: int, max_bytes: int, what: str = "body") -> None:
    """Refuse more than `max_bytes` before anything is parsed."""
    if size > max_bytes:
        raise TooLarge(
            f"{what} is {size} bytes; at most {max_bytes} bytes of XML are accepted", field="body"
        )


def parse_untrusted(
    data: bytes | str,
    max_bytes: int,
    what: str = "body",
    *,
    remove_comments: bool = False,
) -> etree._Element:
    """The root of a document that is small enough, well-formed and DTD-free (else 413/422)."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    check_size(len(raw), max_bytes, what)
    if not raw.strip():
        raise InvalidInput(f"{what} is empty", field="body")
    try:
        root = etree.fromstring(raw, safe_parser(remove_comments=remove_comments))
    except etree.XMLSyntaxError as exc:
        line, column = exc.position
        raise InvalidInput(
            f"{what} is not well-formed XML (malformed XML: line {line}, column {column}: "
            f"{exc.msg})",
            field="body",
        ) from None
    doctype = root.getroottree().docinfo.doctype
    if doctype:
        # Entity declarations are how XML bombs and XXE attacks start; no format we read needs one.
        raise InvalidInput(
            f"{what} has a DOCTYPE: DOCTYPE declarations are not accepted ({doctype[:120]})",
            field="body",
        )
    return root


def local_name(element: etree._Element) -> str:
    """An element's name without its namespace."""
    return etree.QName(element).localname if isinstance(element.tag, str) else ""
