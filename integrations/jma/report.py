"""Safe parsing of a JMA 防災情報XML telegram and its Control/Head envelope."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from integrations.xml import parse_untrusted
from kizuna.errors import InvalidInput

JMX_NAMESPACE = "http://xml.kishou.go.jp/jmaxml1/"
STATUSES = {"通常": "Actual", "訓練": "Exercise", "試験": "Test"}
# 遅延 (a late telegram) carries the same content as 発表.
FIELD_MAX = 64
INFO_TYPES = {
    "発表": "Alert",
    "遅延": "Alert",
    "訂正": "Update",
    "更新": "Update",
    "取消": "Cancel",
}


def parse_xml(data: bytes | str, max_bytes: int, what: str = "telegram") -> etree._Element:
    """The root element of an XML document, parsed with entities, DTDs and network off."""
    return parse_untrusted(data, max_bytes, what, remove_comments=True)


def local(element: etree._Element) -> str:
    """An element's name without its namespace."""
    return etree.QName(element).localname if isinstance(element.tag, str) else ""


def children(element: etree._Element | None, name: str) -> Iterator[etree._Element]:
    """The child elements called `name`, whatever their namespace (JMA mixes several)."""
    if element is None:
        return
    for child in element:
        if isinstance(child.tag, str) and local(child) == name:
            yield child


def child(element: etree._Element | None, *path: str) -> etree._Element | None:
    """The first element down `path` (names without namespace), or None."""
    current = element
    for name in path:
        current = next(children(current, name), None)
        if current is None:
            return None
    return current


def text(element: etree._Element | None, *path: str) -> str:
    """The stripped text down `path`, or "" when absent."""
    found = child(element, *path)
    if found is None or found.text is None:
        return ""
    return found.text.strip()


def descendants(element: etree._Element | None, name: str) -> Iterator[etree._Element]:
    """Every element called `name` below `element`, whatever its namespace."""
    if element is None:
        return
    for found in element.iter():
        if isinstance(found.tag, str) and local(found) == name:
            yield found


@dataclass(frozen=True)
class Report:
    """A telegram's envelope (Control and Head) and its Body element."""

    title: str  # Control/Title: names the telegram type
    status: str  # Actual | Exercise | Test (from Control/Status)
    editorial_office: str
    publishing_office: str
    head_title: str
    report_time: datetime  # Head/ReportDateTime
    valid_until: datetime | None  # Head/ValidDateTime
    event_id: str
    info_type: str  # 発表 | 訂正 | 遅延 | 取消 (Head/InfoType)
    serial: str
    headline: str  # Head/Headline/Text
    head: etree._Element
    body: etree._Element | None

    @property
    def msg_type(self) -> str:
        """The CAP msgType the InfoType stands for."""
        return INFO_TYPES[self.info_type]

    @property
    def office(self) -> str:
        """The office that wrote the telegram (EditorialOffice, else PublishingOffice)."""
        return self.editorial_office or self.publishing_office


def _time(value: str, element: str, required: bool) -> datetime | None:
    if not value:
        if required:
            raise InvalidInput(f"{element} is missing", field=element)
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{element} is not a date-time: {value!r}", field=element) from None
    if moment.tzinfo is None:
        raise InvalidInput(f"{element} has no time zone: {value!r}", field=element)
    return moment


def read_report(root: etree._Element) -> Report:
    """The envelope of a JMA telegram; InvalidInput names what is missing or wrong."""
    if local(root) != "Report" or etree.QName(root).namespace != JMX_NAMESPACE:
        raise InvalidInput(
            f"not a JMA 防災情報XML telegram: the root is <{local(root) or root.tag}> "
            f"in {etree.QName(root).namespace or 'no namespace'}, expected <Report> in "
            f"{JMX_NAMESPACE}",
            field="body",
        )
    control = child(root, "Control")
    head = child(root, "Head")
    if control is None:
        raise InvalidInput("Report/Control is missing", field="Control")
    if head is None:
        raise InvalidInput("Report/Head is missing", field="Head")
    title = text(control, "Title")
    if not title:
        raise InvalidInput("Control/Title is missing", field="Control/Title")
    status = text(control, "Status")
    if status not in STATUSES:
        raise InvalidInput(
            f"Control/Status {status!r} is not one of {', '.join(STATUSES)}",
            field="Control/Status",
        )
    info_type = text(head, "InfoType")
    if info_type not in INFO_TYPES:
        raise InvalidInput(
            f"Head/InfoType {info_type!r} is not one of {', '.join(INFO_TYPES)}",
            field="Head/InfoType",
        )
    editorial = text(control, "EditorialOffice")
    publishing = text(control, "PublishingOffice")
    if not (editorial or publishing):
        raise InvalidInput("Control/EditorialOffice is missing", field="Control/EditorialOffice")
    # These end up in identifiers and keys of bounded length; JMA's are far shorter.
    for value, name in (
        (editorial, "Control/EditorialOffice"),
        (publishing, "Control/PublishingOffice"),
        (text(head, "EventID"), "Head/EventID"),
        (text(head, "Serial"), "Head/Serial"),
    ):
        if len(value) > FIELD_MAX:
            raise InvalidInput(f"{name} is longer than {FIELD_MAX} characters", field=name)
    report_time = _time(text(head, "ReportDateTime"), "Head/ReportDateTime", required=True)
    assert report_time is not None
    return Report(
        title=title,
        status=STATUSES[status],
        editorial_office=editorial,
        publishing_office=publishing,
        head_title=text(head, "Title"),
        report_time=report_time,
        valid_until=_time(text(head, "ValidDateTime"), "Head/ValidDateTime", required=False),
        event_id=text(head, "EventID"),
        info_type=info_type,
        serial=text(head, "Serial"),
        headline=text(head, "Headline", "Text"),
        head=head,
        body=child(root, "Body"),
    )
