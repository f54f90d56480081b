"""Ingest one JMA telegram: parse it, decide per municipality, hand the alerts to the seam."""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts import ImportResult, IncomingMessage, import_message, system_user
from integrations.jma.areas import city_of_ward, is_designated_city
from integrations.jma.models import JmaThread
from integrations.jma.report import Report, parse_xml, read_report
from integrations.jma.telegrams import Notice, Parsed, TelegramType, combine, telegram_type
from kizuna.db import utcnow
from kizuna.errors import InvalidInput
from kizuna.models import Municipality, User
from kizuna.settings import Settings

log = logging.getLogger(__name__)

HEADLINE_MAX = 200
# A line that is only a heading inside the headline text (＜概況＞).
LABEL = re.compile(r"[＜<【［].*[＞>】］]")
DESCRIPTION_MAX = 8000


@dataclass(frozen=True)
class AlertOutcome:
    """What one municipality's alert became."""

    municipality_code: str
    alert_id: str
    version: int | None
    outcome: str  # draft | issued | updated | cancelled | duplicate
    msg_type: str
    identifier: str


@dataclass
class IngestResult:
    """The answer for one telegram: the alerts it made, or why it made none."""

    type_code: str
    type_name: str
    skipped: str | None = None  # the type name, when we do not turn this type into alerts
    reason: str = ""
    status: str = ""
    info_type: str = ""
    alerts: list[AlertOutcome] = field(default_factory=list)
    # Municipalities named by the telegram that this Kizuna holds no boundary for.
    not_served: list[str] = field(default_factory=list)
    # JMA areas we cannot place (no municipality code, or a region our tables lack).
    unmapped_areas: list[str] = field(default_factory=list)
    # Municipalities whose thread already holds a newer telegram than this one.
    stale: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """Whether any alert was made or changed (not only duplicates)."""
        return any(alert.outcome != "duplicate" for alert in self.alerts)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the API's answer body)."""
        return asdict(self)


def ingest(
    session: Session, settings: Settings, data: bytes | str, trusted: bool | None = None
) -> IngestResult:
    """Turn one telegram into alerts: issued when `trusted` (default: settings.jma_auto_issue),
    else drafts for an officer to review.

    Raises InvalidInput (nothing stored) for anything that is not a well-formed JMA telegram,
    or a telegram of a type we parse whose body lacks what that type needs; a telegram of
    another type comes back with `skipped` set to its name.
    """
    try:
        report = read_report(parse_xml(data, settings.max_xml_bytes))
    except InvalidInput as exc:
        log.warning("jma: telegram refused: %s (%s)", exc.message, exc.field)
        raise
    kind = telegram_type(report.title)
    result = IngestResult(
        type_code=kind.code,
        type_name=kind.name,
        status=report.status,
        info_type=report.info_type,
    )
    if kind.parse is None:
        result.skipped, result.reason = kind.name, kind.skip_reason
        log.info("jma: skipped %s (%s): %s", kind.name, kind.code or "?", kind.skip_reason)
        return result
    event_key = kind.event_key(report)
    if report.info_type == "取消":
        # A cancellation names no area: it withdraws whatever the thread said last.
        parsed = Parsed(summary=report.headline)
        notices = _lift_open_threads(session, event_key)
    else:
        try:
            parsed = kind.parse(report)
        except InvalidInput as exc:
            log.warning("jma: %s refused: %s (%s)", kind.code, exc.message, exc.field)
            raise
        notices = parsed.notices
        if parsed.lifts_all:
            notices = _lift_open_threads(session, event_key)
    result.unmapped_areas = parsed.unmapped_areas
    if parsed.unmapped_areas:
        log.warning(
            "jma: %s %s: no municipality for %s",
            kind.code,
            report.report_time.isoformat(),
            ", ".join(parsed.unmapped_areas),
        )
    if trusted is None:
        trusted = settings.jma_auto_issue
    notices, result.not_served = _served(session, notices, kind.single_hazard)
    if notices:
        actor = system_user(session, "jma")
        for notice in notices:
            outcome = _apply(
                session, settings, actor, trusted, kind, report, event_key, notice, parsed
            )
            if outcome == "stale":
                result.stale.append(notice.municipality_code)
            elif isinstance(outcome, AlertOutcome):
                result.alerts.append(outcome)
    log.info(
        "jma: %s %s %s → %d alerts, %d municipalities not served",
        kind.code,
        report.info_type,
        report.report_time.isoformat(),
        len(result.alerts),
        len(result.not_served),
    )
    return result


def _served(
    session: Session, notices: list[Notice], single_hazard: bool
) -> tuple[list[Notice], list[str]]:
    """The notices for municipalities this Kizuna holds, and the codes it does not serve.

    An alert for a municipality without a boundary here would reach nobody: the feed covers
    all of Japan, a Kizuna serves a few municipalities. A designated city's notice goes to its
    wards when the wards are what we hold (MLIT N03), a ward's to its city in the reverse case.
    """
    if not notices:
        return [], []
    held = set(session.scalars(select(Municipality.code)))
    wards: dict[str, list[str]] = {}
    for code in held:
        city = city_of_ward(code)
        if city is not None:
            wards.setdefault(city, []).append(code)
    targets: dict[str, list[Notice]] = {}
    not_served: list[str] = []
    for notice in notices:
        code = notice.municipality_code
        city = city_of_ward(code)
        if code in held:
            found = [code]
        elif city is not None and city in held:
            found = [city]
        elif is_designated_city(code):
            found = sorted(wards.get(code, []))
        else:
            found = []
        if not found:
            not_served.append(code)
        for target in found:
            targets.setdefault(target, []).append(notice)
    served = [
        parts[0]
        if len(parts) == 1 and parts[0].municipality_code == code
        else combine(code, parts, single_hazard)
        for code, parts in targets.items()
    ]
    return served, not_served


def _lift_open_threads(session: Session, event_key: str) -> list[Notice]:
    """A "nothing in force" notice for every municipality the event still has an alert in."""
    threads = session.scalars(
        select(JmaThread).where(JmaThread.event_key == event_key, JmaThread.open.is_(True))
    )
    return [Notice(thread.municipality_code, [], [], []) for thread in threads]


def identifier_for(kind: TelegramType, report: Report, municipality_code: str) -> str:
    """Unique per telegram and municipality:
    `jma:<type>:<EventID>:<Serial>:<ReportDateTime>:<InfoType>:<municipality>`."""
    return ":".join(
        [
            "jma",
            kind.identifier_prefix,
            report.event_id or "-",
            report.serial or "-",
            report.report_time.strftime("%Y%m%dT%H%M%S%z"),
            report.info_type,
            municipality_code,
        ]
    )


def _apply(
    session: Session,
    settings: Settings,
    actor: User,
    trusted: bool,
    kind: TelegramType,
    report: Report,
    event_key: str,
    notice: Notice,
    parsed: Parsed,
) -> AlertOutcome | str | None:
    """Alert, Update or Cancel for one municipality; None when there is nothing to say."""
    thread = session.get(JmaThread, f"{event_key}|{notice.municipality_code}")
    open_thread = thread if thread is not None and thread.open else None
    if thread is not None and report.report_time < thread.sent:
        return "stale"  # a newer telegram already spoke for this municipality
    if report.info_type == "取消" or not notice.active:
        if open_thread is None:
            return None  # nothing of ours in force there: a 解除 or なし we never alerted
        msg_type = "Cancel"
    elif open_thread is not None or report.msg_type == "Update":
        msg_type = "Update"
    else:
        msg_type = "Alert"
    identifier = identifier_for(kind, report, notice.municipality_code)
    sender = f"jma:{report.office}"
    references = []
    if open_thread is not None:
        references.append(
            f"{open_thread.sender},{open_thread.identifier},"
            f"{open_thread.sent.replace(microsecond=0).isoformat()}"
        )
    message = IncomingMessage(
        source_format="jma",
        identifier=identifier,
        sender=sender,
        sent=report.report_time,
        status=report.status,
        msg_type=msg_type,
        content=_content(kind, report, notice, parsed, msg_type),
        references=references,
        municipality_code=notice.municipality_code,
        payload={
            "type": kind.code,
            "title": report.title,
            "head_title": report.head_title,
            "event_id": report.event_id,
            "serial": report.serial,
            "info_type": report.info_type,
            "editorial_office": report.editorial_office,
            "publishing_office": report.publishing_office,
            "report_time": report.report_time.isoformat(),
            "areas": notice.area_names,
        },
    )
    imported = import_message(session, settings, actor, message, trusted=trusted)
    if imported.outcome != "duplicate":
        _remember(session, thread, event_key, notice.municipality_code, message, imported)
    return AlertOutcome(
        notice.municipality_code,
        imported.alert_id,
        imported.version,
        imported.outcome,
        msg_type,
        identifier,
    )


def _remember(
    session: Session,
    thread: JmaThread | None,
    event_key: str,
    municipality_code: str,
    message: IncomingMessage,
    imported: ImportResult,
) -> None:
    if thread is None:
        thread = JmaThread(
            key=f"{event_key}|{municipality_code}",
            event_key=event_key,
            municipality_code=municipality_code,
        )
        session.add(thread)
    thread.sender = message.sender
    thread.identifier = message.identifier
    thread.sent = message.sent
    thread.open = message.msg_type != "Cancel"
    thread.alert_id = imported.alert_id
    thread.updated_at = utcnow()
    session.flush()


def headline_of(report: Report, kind: TelegramType) -> str:
    """【Head/Title】 and the first line of Head/Headline/Text that says something, as JMA's own
    Atom feed summarises a telegram (「【京都府気象警報・注意報】北部では、…」)."""
    title = report.head_title or kind.name
    for line in report.headline.splitlines():
        line = line.strip()
        if line and not LABEL.fullmatch(line):
            return line if line.startswith("【") else f"【{title}】{line}"
    return title


def _clip(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _content(
    kind: TelegramType, report: Report, notice: Notice, parsed: Parsed, msg_type: str
) -> dict[str, Any]:
    """The alert body for one municipality, in Japanese as JMA wrote it."""
    expires = report.valid_until or report.report_time + kind.lifetime
    headline = _clip(headline_of(report, kind), HEADLINE_MAX)
    parts = [parsed.summary or report.headline or report.head_title]
    if notice.lines:
        where = "、".join(notice.area_names)
        parts.append(
            f"【{where}】\n" + "\n".join(notice.lines) if where else "\n".join(notice.lines)
        )
    description = _clip("\n\n".join(part for part in parts if part) or kind.name, DESCRIPTION_MAX)
    if notice.active and msg_type != "Cancel":
        top = notice.top
        event, category = _clip(notice.event, 200), top.category
        severity, urgency, certainty = top.severity, top.urgency, top.certainty
        level = notice.evacuation_level
    else:
        # 解除 or 取消: what was in force is over.
        ended = "取消" if report.info_type == "取消" else "解除"
        event = _clip(f"{report.head_title or kind.name}（{ended}）", 200)
        category = kind.category
        severity, urgency, certainty, level = "Minor", "Past", "Observed", None
    content: dict[str, Any] = {
        "event": event,
        "category": category,
        "severity": severity,
        "urgency": urgency,
        "certainty": certainty,
        "evacuation_level": level,
        "onset": None,
        "expires": expires.isoformat(),
        "area": {"municipality_codes": [notice.municipality_code]},
        "info": [
            {
                "language": "ja",
                "headline": headline,
                "description": description,
                "instruction": None,
            }
        ],
    }
    if msg_type == "Cancel":
        content["cancel_reason"] = headline
    return content
