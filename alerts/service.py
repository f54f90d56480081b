"""Alert decisions: drafting, area checks, targeting, issue/update/cancel, deliveries, expiry."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import shapely
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import ColumnElement, delete, distinct, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import InstrumentedAttribute, Session, aliased

from alerts import events, receipts
from alerts.drills import is_drill, marked_headline
from alerts.models import (
    Acknowledgement,
    Alert,
    AlertApproval,
    AlertVersion,
    Delivery,
    Subscription,
    SubscriptionPlace,
)
from alerts.schemas import (
    AlertCancel,
    AlertContent,
    AlertCreate,
    AlertUpdate,
    ApprovalRequest,
    AreaIn,
    SubscriptionIn,
)
from gis import (
    GeometryError,
    SubscriberIndex,
    circle_polygon,
    geodesic_area_m2,
    normalize_municipality_code,
    parse_area_geometry,
    to_geojson,
)
from kizuna import audit
from kizuna.areas import get_municipality, municipalities_intersecting, municipality_geometry
from kizuna.db import new_id, utcnow
from kizuna.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    KizunaError,
    NotAuthenticated,
    NotFound,
)
from kizuna.models import User
from kizuna.outbox import emit
from kizuna.settings import Settings

OFFICER_ROLES = ("officer", "admin")
CHANNELS = ("websocket",)


# ---------------------------------------------------------------------------------------------
# Areas


@dataclass(frozen=True)
class ResolvedArea:
    geometry: BaseGeometry
    municipality_codes: list[str]
    # What the area names, for CAP <areaDesc>: "絆市 本町地区、川端地区"; empty when it names none.
    description: str = ""


def resolve_area(
    session: Session,
    area: AreaIn,
    field: str = "area",
    district_scope: Iterable[str] | None = None,
) -> ResolvedArea:
    """The union of an alert's geometry, circles, municipalities and districts, validated piece
    by piece; districts must belong to `district_scope` (municipality codes) when it is given."""
    from kizuna.areas import describe_area, district_geometry, get_districts

    parts: list[BaseGeometry] = []
    if area.geometry:
        try:
            parts.append(parse_area_geometry(area.geometry, field=f"{field}.geometry"))
        except GeometryError as exc:
            raise InvalidInput(exc.message, field=exc.field or f"{field}.geometry") from None
    for index, circle in enumerate(area.circles or []):
        try:
            parts.append(circle_polygon(circle.lon, circle.lat, circle.radius_km))
        except GeometryError as exc:
            suffix = f".{exc.field}" if exc.field else ""
            raise InvalidInput(exc.message, field=f"{field}.circles[{index}]{suffix}") from None
    codes: list[str] = []
    for index, raw in enumerate(area.municipality_codes or []):
        code_field = f"{field}.municipality_codes[{index}]"
        try:
            code = normalize_municipality_code(raw)
        except ValueError as exc:
            raise InvalidInput(str(exc), field=code_field) from None
        parts.append(municipality_geometry(get_municipality(session, code, field=code_field)))
        if code not in codes:
            codes.append(code)
    scope = None if district_scope is None else set(district_scope)
    districts = get_districts(session, area.district_ids or [], scope, f"{field}.district_ids")
    parts.extend(district_geometry(district) for district in districts)
    geometry = shapely.union_all(parts) if len(parts) > 1 else parts[0]
    if geometry.is_empty or geodesic_area_m2(geometry) <= 0:
        raise InvalidInput("area is empty", field=field)
    return ResolvedArea(
        geometry=geometry,
        municipality_codes=codes,
        description=describe_area(session, codes, [district.id for district in districts]),
    )


def check_area_allowed(
    session: Session, settings: Settings, user: User, area: ResolvedArea
) -> None:
    """An officer may alert only inside the municipalities they act for."""
    if user.role == "admin":
        return
    for index, code in enumerate(area.municipality_codes):
        if code not in user.municipality_codes:
            raise Forbidden(
                f"municipality {code} is not one you act for",
                field=f"area.municipality_codes[{index}]",
            )
    allowed = shapely.union_all(
        [municipality_geometry(get_municipality(session, c)) for c in user.municipality_codes]
    )
    outside = area.geometry.difference(allowed)
    if outside.is_empty:
        return
    share = geodesic_area_m2(outside) / geodesic_area_m2(area.geometry)
    if share > settings.area_outside_tolerance:
        raise Forbidden(
            f"{share:.0%} of the area lies outside your municipalities "
            f"({', '.join(user.municipality_codes)})",
            field="area",
        )


def _sender_municipality(
    session: Session, user: User, requested: str | None, area: ResolvedArea
) -> str:
    if requested is not None:
        try:
            code = normalize_municipality_code(requested)
        except ValueError as exc:
            raise InvalidInput(str(exc), field="municipality_code") from None
        get_municipality(session, code)
        if user.role != "admin" and code not in user.municipality_codes:
            raise Forbidden(
                f"municipality {code} is not one you act for", field="municipality_code"
            )
        return code
    if len(user.municipality_codes) == 1:
        return user.municipality_codes[0]
    candidates = [m.code for m in municipalities_intersecting(session, area.geometry)]
    if user.role != "admin":
        candidates = [code for code in candidates if code in user.municipality_codes]
    if not candidates:
        raise InvalidInput("say which municipality sends this alert", field="municipality_code")
    # The municipality holding most of the area sends it.
    return max(
        candidates,
        key=lambda code: (
            municipality_geometry(get_municipality(session, code)).intersection(area.geometry).area
        ),
    )


# ---------------------------------------------------------------------------------------------
# Targeting


@dataclass(frozen=True)
class Targets:
    subscription_ids: set[str]
    places: int


def _opted_in_to_drills(subscription_id: InstrumentedAttribute[str]) -> ColumnElement[bool]:
    """The subscription in this column opted in to drills (Exercise and Test alerts)."""
    return subscription_id.in_(select(Subscription.id).where(Subscription.drills.is_(True)))


def target_subscriptions(session: Session, area: BaseGeometry, status: str = "Actual") -> Targets:
    """Subscriptions with a point inside `area` (edge included) or a municipality it overlaps;
    for a drill (any status but Actual) only those opted in to drills."""
    if area.is_empty:
        return Targets(subscription_ids=set(), places=0)
    min_lon, min_lat, max_lon, max_lat = area.bounds
    points = select(
        SubscriptionPlace.subscription_id, SubscriptionPlace.lon, SubscriptionPlace.lat
    ).where(
        SubscriptionPlace.municipality_code.is_(None),
        SubscriptionPlace.lon.between(min_lon, max_lon),
        SubscriptionPlace.lat.between(min_lat, max_lat),
    )
    if is_drill(status):
        points = points.where(_opted_in_to_drills(SubscriptionPlace.subscription_id))
    rows = session.execute(points).all()
    subscription_ids: set[str] = set()
    places = 0
    if rows:
        ids, lons, lats = zip(*rows, strict=True)
        index = SubscriberIndex(np.array(ids, dtype=object), np.array(lons), np.array(lats))
        hits = index.within(area)
        places += len(hits)
        subscription_ids.update(hits.tolist())
    codes = [m.code for m in municipalities_intersecting(session, area)]
    if codes:
        named = select(SubscriptionPlace.subscription_id).where(
            SubscriptionPlace.municipality_code.in_(codes)
        )
        if is_drill(status):
            named = named.where(_opted_in_to_drills(SubscriptionPlace.subscription_id))
        by_code = session.execute(named).scalars().all()
        places += len(by_code)
        subscription_ids.update(by_code)
    return Targets(subscription_ids=subscription_ids, places=places)


def earlier_recipients(
    session: Session, alert_id: str, before_version: int, drills_only: bool = False
) -> set[str]:
    """Everyone an earlier version of the alert went to: they must hear of its update or end.

    With `drills_only`, those of them still opted in to drills (a drill's update or end).
    """
    statement = (
        select(Delivery.subscription_id)
        .join(AlertVersion, AlertVersion.id == Delivery.alert_version_id)
        .where(AlertVersion.alert_id == alert_id, AlertVersion.version < before_version)
        .distinct()
    )
    if drills_only:
        statement = statement.where(_opted_in_to_drills(Delivery.subscription_id))
    return set(session.scalars(statement))


def recipients_of(session: Session, version: AlertVersion) -> list[str]:
    """The sorted subscription ids one version goes to."""
    area = shape(version.area_geometry)
    targets = target_subscriptions(session, area, version.status).subscription_ids
    if version.version > 1:
        targets |= earlier_recipients(
            session, version.alert_id, version.version, drills_only=is_drill(version.status)
        )
    return sorted(targets)


def place_in_area(session: Session, place: SubscriptionPlace, area: BaseGeometry) -> bool:
    """Whether one registered place is covered by an area (same rule as targeting)."""
    if place.municipality_code is not None:
        municipality = get_municipality(session, place.municipality_code)
        geometry = municipality_geometry(municipality)
        return geometry.intersects(area) and not geometry.touches(area)
    if place.lon is None or place.lat is None:
        return False
    return bool(area.intersects(Point(place.lon, place.lat)))


# ---------------------------------------------------------------------------------------------
# Alert lifecycle


def _require_officer(user: User) -> None:
    if user.role not in OFFICER_ROLES:
        raise Forbidden("only disaster officers may do this")


def _require_own_alert(user: User, alert: Alert) -> None:
    if user.role != "admin" and alert.municipality_code not in user.municipality_codes:
        if alert.state == "draft":
            # Another city's draft does not exist for this user, as `get_alert` answers.
            raise NotFound(f"no alert {alert.id}")
        raise Forbidden("this alert belongs to another municipality")


def _audit(session: Session, user: User, action: str, subject: str, **detail: Any) -> None:
    audit.record(session, actor=user, action=action, subject=subject, **detail)


def _check_expiry(expires: datetime, field: str = "expires") -> None:
    if expires <= utcnow():
        raise InvalidInput("expires is in the past", field=field)


def _content_dict(content: AlertContent, area: ResolvedArea) -> dict[str, Any]:
    stored = content.model_dump(mode="json", exclude={"municipality_code"})
    stored["area"]["municipality_codes"] = area.municipality_codes or None
    return stored


def _district_scope(user: User) -> list[str] | None:
    """Districts an officer may name: those of their municipalities (admins: any)."""
    return None if user.role == "admin" else list(user.municipality_codes)


def create_alert(session: Session, settings: Settings, user: User, body: AlertCreate) -> Alert:
    """Store a draft after checking its area is valid and the officer's to alert."""
    _require_officer(user)
    _check_expiry(body.expires)
    area = resolve_area(session, body.area, district_scope=_district_scope(user))
    check_area_allowed(session, settings, user, area)
    municipality_code = _sender_municipality(session, user, body.municipality_code, area)
    alert = Alert(
        id=new_id(),
        municipality_code=municipality_code,
        state="draft",
        status=body.status,
        current_version=0,
        draft=_content_dict(body, area),
        expires=body.expires,
        created_by=user.id,
    )
    session.add(alert)
    _audit(session, user, "alert.create", alert.id, status=body.status)
    session.flush()
    return alert


def preview(
    session: Session, settings: Settings, user: User, area_in: AreaIn, status: str = "Actual"
) -> tuple[Targets, BaseGeometry]:
    """How many subscriptions an alert of `status` over an area reaches, before anything is
    stored or sent (a drill counts only residents opted in to drills)."""
    _require_officer(user)
    area = resolve_area(session, area_in, district_scope=_district_scope(user))
    check_area_allowed(session, settings, user, area)
    return target_subscriptions(session, area.geometry, status), area.geometry


def get_alert(session: Session, user: User, alert_id: str) -> Alert:
    """One alert as `user` may see it: drafts only for the officers of its municipality."""
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise NotFound(f"no alert {alert_id}")
    if alert.state == "draft" and (
        user.role not in OFFICER_ROLES
        or (user.role != "admin" and alert.municipality_code not in user.municipality_codes)
    ):
        raise NotFound(f"no alert {alert_id}")
    return alert


def list_alerts(
    session: Session, user: User, active: bool | None = None, limit: int = 100
) -> list[Alert]:
    """Alerts newest first; drafts only for their own officers; `active` filters live ones."""
    query = select(Alert).order_by(Alert.created_at.desc()).limit(limit)
    if active:
        query = query.where(Alert.state == "issued", Alert.expires > utcnow())
    elif active is False:
        query = query.where(or_(Alert.state != "issued", Alert.expires <= utcnow()))
    if user.role not in OFFICER_ROLES:
        query = query.where(Alert.state != "draft")
    elif user.role != "admin":
        query = query.where(
            or_(Alert.state != "draft", Alert.municipality_code.in_(user.municipality_codes))
        )
    return list(session.scalars(query))


def is_active(alert: Alert) -> bool:
    return alert.state == "issued" and alert.expires > utcnow()


def format_cap_time(moment: datetime) -> str:
    """A CAP 1.2 dateTime: seconds precision, numeric offset (CAP forbids \"Z\")."""
    return moment.replace(microsecond=0).isoformat()


def _write_version(
    session: Session,
    settings: Settings,
    user: User,
    alert: Alert,
    msg_type: str,
    content: dict[str, Any],
    area_geometry: BaseGeometry,
    origin: dict[str, Any] | None = None,
    audit: dict[str, Any] | None = None,
) -> AlertVersion:
    """Append a version; an external origin keeps its own identifier, sender and sent time."""
    number = alert.current_version + 1
    sent = utcnow().replace(microsecond=0)
    sender = f"{alert.municipality_code}@{settings.cap_sender_domain}"
    identifier = f"urn:kizuna:{alert.municipality_code}:{alert.id}:{number}"
    references = [f"{v.sender},{v.identifier},{format_cap_time(v.sent)}" for v in alert.versions]
    if origin is not None:
        identifier, sender = origin["identifier"], origin["sender"]
        sent = datetime.fromisoformat(origin["sent"])
        references = list(dict.fromkeys([*references, *origin.get("references", [])]))
    version = AlertVersion(
        id=new_id(),
        alert_id=alert.id,
        version=number,
        identifier=identifier,
        sender=sender,
        msg_type=msg_type,
        status=alert.status,
        sent=sent,
        expires=datetime.fromisoformat(content["expires"]),
        references=references,
        content=content,
        area_geometry=to_geojson(area_geometry),
        issued_by=user.id,
        origin=origin,
    )
    session.add(version)
    alert.current_version = number
    alert.expires = version.expires
    alert.updated_at = sent
    session.flush()
    emit(session, events.ALERT_ISSUED, events.alert_issued(alert.id, version.id, number, msg_type))
    _audit(session, user, f"alert.{msg_type.lower()}", alert.id, version=number, **(audit or {}))
    return version


def _lock_alert(session: Session, alert_id: str) -> Alert:
    # Row lock on PostgreSQL so two officers cannot issue/update the same alert at once.
    alert = session.scalar(select(Alert).where(Alert.id == alert_id).with_for_update())
    if alert is None:
        raise NotFound(f"no alert {alert_id}")
    return alert


def needs_approval(settings: Settings, alert: Alert) -> bool:
    """Whether issuing or updating this alert waits for a second officer (two-person rule).

    Only Actual alerts: exercises and tests are practice, and cancelling is never held up.
    """
    return settings.two_person_required and alert.status == "Actual"


def _require_no_approval_needed(settings: Settings, alert: Alert, what: str) -> None:
    if needs_approval(settings, alert):
        raise Conflict(
            f"an Actual alert is {what} only with a second officer's approval: "
            f"request approval (POST /api/v1/alerts/{alert.id}/approval) instead",
            code="approval_required",
        )


def _check_issuable(session: Session, settings: Settings, user: User, alert: Alert) -> ResolvedArea:
    """The checks a draft passes before it goes out; returns its resolved area."""
    if alert.state != "draft":
        raise Conflict(f"alert already {alert.state}; use update or cancel", code="already_issued")
    if alert.status == "Draft":
        raise Conflict("a message with status Draft is not for distribution; set a status")
    _check_expiry(alert.expires)
    area = resolve_area(
        session,
        AreaIn.model_validate(alert.draft["area"]),
        district_scope=[alert.municipality_code],
    )
    # Re-check: the officer's municipalities may have changed since drafting.
    check_area_allowed(session, settings, user, area)
    return area


def issue_alert(
    session: Session, settings: Settings, user: User, alert_id: str
) -> tuple[AlertVersion, int]:
    """Issue a draft: store version 1 and its outbox event together; returns (version, count)."""
    _require_officer(user)
    alert = _lock_alert(session, alert_id)
    _require_own_alert(user, alert)
    if alert.state == "draft":
        _require_no_approval_needed(settings, alert, "issued")
    return _issue_draft(session, settings, user, alert)


def _issue_draft(
    session: Session,
    settings: Settings,
    user: User,
    alert: Alert,
    audit: dict[str, Any] | None = None,
) -> tuple[AlertVersion, int]:
    area = _check_issuable(session, settings, user, alert)
    content = alert.draft
    # Atomic state flip: a concurrent second issue finds no draft and changes nothing.
    flipped = session.execute(
        update(Alert).where(Alert.id == alert.id, Alert.state == "draft").values(state="issued")
    )
    if flipped.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("alert already issued", code="already_issued")
    alert.state = "issued"
    version = _write_version(
        session, settings, user, alert, "Alert", content, area.geometry, audit=audit
    )
    recipients = len(target_subscriptions(session, area.geometry, alert.status).subscription_ids)
    version.recipients_targeted = recipients
    return version, recipients


def _require_live(alert: Alert) -> None:
    if alert.state == "draft":
        raise Conflict("alert is a draft; issue it first", code="not_issued")
    if alert.state == "cancelled":
        raise Conflict("alert was cancelled; it cannot change", code="cancelled")
    if alert.state == "expired" or alert.expires <= utcnow():
        raise Conflict("alert has expired; issue a new one", code="expired")


def update_alert(
    session: Session, settings: Settings, user: User, alert_id: str, body: AlertUpdate
) -> tuple[AlertVersion, int]:
    """Issue an Update: the current content with the given fields replaced, as a new version."""
    _require_officer(user)
    alert = _lock_alert(session, alert_id)
    _require_own_alert(user, alert)
    _require_live(alert)
    _require_no_approval_needed(settings, alert, "updated")
    return _apply_update(session, settings, user, alert, body)


def _updated_content(
    session: Session, settings: Settings, user: User, alert: Alert, body: AlertUpdate
) -> tuple[AlertContent, ResolvedArea]:
    """The current content with `body`'s fields replaced, checked as a whole."""
    current = alert.versions[-1].content
    merged = {**current, **body.model_dump(mode="json", exclude_unset=True)}
    merged.pop("municipality_code", None)
    try:
        content = AlertContent.model_validate(merged)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    _check_expiry(content.expires)
    area = resolve_area(session, content.area, district_scope=[alert.municipality_code])
    check_area_allowed(session, settings, user, area)
    return content, area


def _apply_update(
    session: Session,
    settings: Settings,
    user: User,
    alert: Alert,
    body: AlertUpdate,
    audit: dict[str, Any] | None = None,
) -> tuple[AlertVersion, int]:
    content, area = _updated_content(session, settings, user, alert, body)
    version = _write_version(
        session,
        settings,
        user,
        alert,
        "Update",
        _content_dict(content, area),
        area.geometry,
        audit=audit,
    )
    recipients = len(recipients_of(session, version))
    version.recipients_targeted = recipients
    return version, recipients


def cancel_alert(
    session: Session, settings: Settings, user: User, alert_id: str, body: AlertCancel
) -> tuple[AlertVersion, int]:
    """Issue a Cancel to everyone the alert reached; the alert leaves the active list."""
    _require_officer(user)
    alert = _lock_alert(session, alert_id)
    _require_own_alert(user, alert)
    _require_live(alert)
    previous = alert.versions[-1]
    content = {**previous.content, "cancel_reason": body.reason}
    version = _write_version(
        session, settings, user, alert, "Cancel", content, shape(previous.area_geometry)
    )
    alert.state = "cancelled"
    # A pending approval can never be granted now: close it, so no one is asked to decide it.
    for approval in session.scalars(
        select(AlertApproval).where(
            AlertApproval.alert_id == alert.id, AlertApproval.state == "pending"
        )
    ):
        approval.state, approval.decided_by = "withdrawn", user.id
        approval.decided_at, approval.reason = utcnow(), "alert cancelled"
        _audit(
            session,
            user,
            "alert.approval.withdraw",
            alert.id,
            approval_id=approval.id,
            before="pending",
            after="withdrawn",
            reason="alert cancelled",
        )
    recipients = len(recipients_of(session, version))
    version.recipients_targeted = recipients
    return version, recipients


# ---------------------------------------------------------------------------------------------
# Two-person approval of Actual alerts


def _locked_for_approval(session: Session, user: User, alert_id: str) -> Alert:
    """The alert, locked, when `user` may act on it: the same 404/403 answers as elsewhere."""
    _require_officer(user)
    alert = _lock_alert(session, alert_id)
    # Another city's draft does not exist for this officer (as in get_alert); another city's
    # issued alert is visible but not theirs to change (as in update and cancel).
    hidden = alert.state == "draft" and alert.municipality_code not in user.municipality_codes
    if hidden and user.role != "admin":
        raise NotFound(f"no alert {alert_id}")
    _require_own_alert(user, alert)
    return alert


def _pending_approval(session: Session, alert_id: str) -> AlertApproval | None:
    return session.scalar(
        select(AlertApproval).where(
            AlertApproval.alert_id == alert_id, AlertApproval.state == "pending"
        )
    )


def _prefixed(field: str, error: KizunaError) -> KizunaError:
    if error.field:
        error.field = f"{field}.{error.field}"
    return error


def request_approval(
    session: Session, settings: Settings, user: User, alert_id: str, body: ApprovalRequest
) -> AlertApproval:
    """Ask a second officer to approve issuing a draft, or `body.changes` to an issued alert."""
    alert = _locked_for_approval(session, user, alert_id)
    if not needs_approval(settings, alert):
        raise Conflict(
            f"status {alert.status} needs no approval here; issue or update it directly",
            code="approval_not_required",
        )
    changes: dict[str, Any] | None = None
    if alert.state == "draft":
        if body.changes is not None:
            raise InvalidInput(
                "a draft is approved as it stands; leave out changes", field="changes"
            )
        kind = "issue"
        _check_issuable(session, settings, user, alert)
    else:
        _require_live(alert)
        if body.changes is None:
            raise InvalidInput('say what the update changes: {"changes": {…}}', field="changes")
        kind = "update"
        try:
            _updated_content(session, settings, user, alert, body.changes)
        except KizunaError as exc:
            raise _prefixed("changes", exc) from None
        changes = body.changes.model_dump(mode="json", exclude_unset=True)
    # A write first: on SQLite it takes the database's write lock (PostgreSQL already holds the
    # row lock), so two requests at once cannot both see "nothing pending" below.
    session.execute(
        update(Alert)
        .where(Alert.id == alert.id)
        .values(updated_at=Alert.updated_at)
        .execution_options(synchronize_session=False)
    )
    if _pending_approval(session, alert.id) is not None:
        raise Conflict(
            "an approval is already pending for this alert; it is decided or withdrawn first",
            code="approval_pending",
        )
    approval = AlertApproval(
        id=new_id(),
        alert_id=alert.id,
        kind=kind,
        changes=changes,
        requested_by=user.id,
        requested_at=utcnow(),
        state="pending",
    )
    session.add(approval)
    _audit(
        session,
        user,
        "alert.approval.request",
        alert.id,
        approval_id=approval.id,
        kind=kind,
        changes=changes,
        before=None,
        after="pending",
    )
    session.flush()
    return approval


def _decide(
    session: Session, approval: AlertApproval, user: User, state: str, reason: str | None = None
) -> None:
    """Move the approval out of pending in one conditional UPDATE: only one decision wins."""
    now = utcnow()
    moved = session.execute(
        update(AlertApproval)
        .where(AlertApproval.id == approval.id, AlertApproval.state == "pending")
        .values(state=state, decided_by=user.id, decided_at=now, reason=reason)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("this approval was already decided", code="approval_decided")
    approval.state, approval.decided_by, approval.decided_at, approval.reason = (
        state,
        user.id,
        now,
        reason,
    )


def _decidable(session: Session, user: User, alert_id: str) -> tuple[Alert, AlertApproval]:
    alert = _locked_for_approval(session, user, alert_id)
    approval = _pending_approval(session, alert.id)
    if approval is None:
        raise Conflict("no approval is pending for this alert", code="no_pending_approval")
    if approval.requested_by == user.id:
        raise Forbidden(
            "you asked for this approval; another officer must decide it", code="own_request"
        )
    return alert, approval


# The audit action of each way out of pending.
_DECISION_ACTIONS = {"approved": "approve", "rejected": "reject", "withdrawn": "withdraw"}


def _audit_decision(session: Session, user: User, approval: AlertApproval, **detail: Any) -> None:
    _audit(
        session,
        user,
        f"alert.approval.{_DECISION_ACTIONS[approval.state]}",
        approval.alert_id,
        approval_id=approval.id,
        kind=approval.kind,
        before="pending",
        after=approval.state,
        **detail,
    )


def approve(
    session: Session, settings: Settings, user: User, alert_id: str
) -> tuple[AlertVersion, int]:
    """A second officer approves: the draft is issued, or the update applied, at once."""
    alert, approval = _decidable(session, user, alert_id)
    _decide(session, approval, user, "approved")
    requester = session.get(User, approval.requested_by)
    who = {
        "approval_id": approval.id,
        "requested_by": requester.username if requester else approval.requested_by,
        "approved_by": user.username,
    }
    if approval.kind == "issue":
        version, recipients = _issue_draft(session, settings, user, alert, audit=who)
    else:
        update_body = AlertUpdate.model_validate(approval.changes or {})
        version, recipients = _apply_update(session, settings, user, alert, update_body, audit=who)
    _audit_decision(
        session,
        user,
        approval,
        version=version.version,
        requested_by=who["requested_by"],
        approved_by=who["approved_by"],
    )
    return version, recipients


def reject(session: Session, user: User, alert_id: str, reason: str) -> AlertApproval:
    """A second officer refuses; a draft stays a draft and its author may ask again."""
    _, approval = _decidable(session, user, alert_id)
    _decide(session, approval, user, "rejected", reason)
    _audit_decision(session, user, approval, reason=reason)
    return approval


def withdraw(session: Session, user: User, alert_id: str) -> AlertApproval:
    """The requester takes their pending request back."""
    alert = _locked_for_approval(session, user, alert_id)
    approval = _pending_approval(session, alert.id)
    if approval is None:
        raise Conflict("no approval is pending for this alert", code="no_pending_approval")
    if approval.requested_by != user.id:
        raise Forbidden(
            "only the officer who asked may withdraw; approve or reject it instead",
            code="not_requester",
        )
    _decide(session, approval, user, "withdrawn")
    _audit_decision(session, user, approval)
    return approval


def can_decide(user: User, alert: Alert, approval: AlertApproval) -> bool:
    """Whether `user` may approve or reject `approval` now (never their own request)."""
    return (
        approval.state == "pending"
        and approval.requested_by != user.id
        and user.role in OFFICER_ROLES
        and (user.role == "admin" or alert.municipality_code in user.municipality_codes)
    )


def _usernames(session: Session, ids: set[str]) -> dict[str, str]:
    if not ids:
        return {}
    return dict(session.execute(select(User.id, User.username).where(User.id.in_(ids))).all())


def _approval_view(
    approval: AlertApproval, alert: Alert, user: User, names: dict[str, str]
) -> dict[str, Any]:
    return {
        "id": approval.id,
        "alert_id": approval.alert_id,
        "kind": approval.kind,
        "changes": approval.changes,
        "state": approval.state,
        "requested_by": names.get(approval.requested_by, approval.requested_by),
        "requested_at": approval.requested_at,
        "decided_by": names.get(approval.decided_by, approval.decided_by)
        if approval.decided_by
        else None,
        "decided_at": approval.decided_at,
        "reason": approval.reason,
        "can_approve": can_decide(user, alert, approval),
    }


def describe_approval(session: Session, user: User, approval: AlertApproval) -> dict[str, Any]:
    """One approval as the API shows it to `user` (usernames, whether they may decide)."""
    alert = session.get(Alert, approval.alert_id)
    assert alert is not None  # the foreign key keeps it
    names = _usernames(session, {approval.requested_by, approval.decided_by or ""} - {""})
    return _approval_view(approval, alert, user, names)


def current_approvals(
    session: Session, user: User, alerts: list[Alert]
) -> dict[str, dict[str, Any]]:
    """Per alert id: its pending approval, else its latest decided one (as the API shows it).

    Only for the officers of the alert's municipality and admins: who asked, who refused and
    why is the municipality's own business.
    """
    by_id = {
        alert.id: alert
        for alert in alerts
        if user.role == "admin"
        or (user.role in OFFICER_ROLES and alert.municipality_code in user.municipality_codes)
    }
    if not by_id:
        return {}
    chosen: dict[str, AlertApproval] = {}
    for approval in session.scalars(
        select(AlertApproval)
        .where(AlertApproval.alert_id.in_(by_id))
        .order_by(AlertApproval.requested_at)
    ):
        held = chosen.get(approval.alert_id)
        if held is None or held.state != "pending":
            chosen[approval.alert_id] = approval  # later requests replace earlier decided ones
    ids = {a.requested_by for a in chosen.values()} | {
        a.decided_by for a in chosen.values() if a.decided_by
    }
    names = _usernames(session, ids)
    return {
        alert_id: _approval_view(approval, by_id[alert_id], user, names)
        for alert_id, approval in chosen.items()
    }


def _headline(content: dict[str, Any]) -> str:
    infos = content.get("info") or [{}]
    for info in infos:
        if str(info.get("language", "")).split("-")[0].lower() == "ja":
            return str(info.get("headline", ""))
    return str(infos[0].get("headline", ""))


def list_approvals(
    session: Session, user: User, state: str = "pending", limit: int = 200
) -> list[dict[str, Any]]:
    """Approvals of the caller's municipalities (all for admins), newest first, with the alert
    as it would go out if approved (headline, status, evacuation level)."""
    _require_officer(user)
    query = (
        select(AlertApproval, Alert)
        .join(Alert, Alert.id == AlertApproval.alert_id)
        .where(AlertApproval.state == state)
        .order_by(AlertApproval.requested_at.desc())
        .limit(limit)
    )
    if user.role != "admin":
        query = query.where(Alert.municipality_code.in_(user.municipality_codes))
    rows = session.execute(query).all()
    ids = {a.requested_by for a, _ in rows} | {a.decided_by for a, _ in rows if a.decided_by}
    names = _usernames(session, ids)
    result = []
    for approval, alert in rows:
        content = alert.versions[-1].content if alert.versions else alert.draft
        proposed = {**content, **(approval.changes or {})}
        result.append(
            {
                **_approval_view(approval, alert, user, names),
                "headline": _headline(proposed),
                "status": alert.status,
                "evacuation_level": proposed.get("evacuation_level"),
                "alert_state": alert.state,
                "municipality_code": alert.municipality_code,
            }
        )
    return result


def expire_alerts(session: Session) -> list[str]:
    """Mark alerts past `expires` as expired; returns their ids."""
    now = utcnow()
    expired = list(
        session.scalars(select(Alert.id).where(Alert.state == "issued", Alert.expires <= now))
    )
    if expired:
        session.execute(
            update(Alert)
            .where(Alert.id.in_(expired), Alert.state == "issued")
            .values(state="expired", updated_at=now)
        )
        for alert_id in expired:
            emit(session, events.ALERT_EXPIRED, {"alert_id": alert_id})
    return expired


# ---------------------------------------------------------------------------------------------
# Deliveries


def record_deliveries(
    session: Session, version_id: str, subscription_ids: Iterable[str], channel: str
) -> int:
    """Insert pending delivery records, skipping any that exist; returns how many were new."""
    rows = [
        {
            "alert_version_id": version_id,
            "subscription_id": sid,
            "channel": channel,
            "state": "pending",
            "attempts": 0,
            "created_at": utcnow(),
        }
        for sid in subscription_ids
    ]
    if not rows:
        return 0
    if _replaced(session, version_id):
        # The fan-out ran after a newer version (an update or a cancel) was issued.
        for row in rows:
            row["state"] = "superseded"
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = (
        insert(Delivery)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["alert_version_id", "subscription_id", "channel"])
        .returning(Delivery.id)
    )
    return len(session.execute(statement).all())


def supersede_older(session: Session, version: AlertVersion) -> None:
    """Pending deliveries of older versions will never be sent: the new one replaces them."""
    older = select(AlertVersion.id).where(
        AlertVersion.alert_id == version.alert_id, AlertVersion.version < version.version
    )
    session.execute(
        update(Delivery)
        .where(Delivery.alert_version_id.in_(older), Delivery.state == "pending")
        .values(state="superseded")
    )


def _replaced(session: Session, version_id: str) -> bool:
    """Whether a newer version of the same alert has been issued."""
    newer = aliased(AlertVersion)
    return (
        session.scalar(
            select(newer.id)
            .join(AlertVersion, AlertVersion.alert_id == newer.alert_id)
            .where(AlertVersion.id == version_id, newer.version > AlertVersion.version)
            .limit(1)
        )
        is not None
    )


def _live_version() -> ColumnElement[bool]:
    return AlertVersion.expires > utcnow()


def claim_pending(
    session: Session, version_id: str, subscription_ids: list[str], channel: str = "websocket"
) -> list[str]:
    """Atomically mark pending deliveries as sent; only the claimed ones may be sent now.
    None once a newer version of the alert exists: a resident must never get an order after the
    update or cancel that replaced it."""
    if not subscription_ids:
        return []
    if _replaced(session, version_id):
        session.execute(
            update(Delivery)
            .where(
                Delivery.alert_version_id == version_id,
                Delivery.channel == channel,
                Delivery.state == "pending",
                Delivery.subscription_id.in_(subscription_ids),
            )
            .values(state="superseded")
        )
        return []
    wanted: ColumnElement[bool] = Delivery.subscription_id.in_(subscription_ids)
    status = session.scalar(select(AlertVersion.status).where(AlertVersion.id == version_id))
    if status is not None and is_drill(status):
        # A resident may have opted out of drills since the fan-out recorded their row.
        wanted = Delivery.subscription_id.in_(
            select(Subscription.id).where(
                Subscription.id.in_(subscription_ids), Subscription.drills.is_(True)
            )
        )
    result = session.execute(
        update(Delivery)
        .where(
            Delivery.alert_version_id == version_id,
            Delivery.channel == channel,
            Delivery.state == "pending",
            wanted,
        )
        .values(state="sent", sent_at=utcnow(), attempts=Delivery.attempts + 1)
        .returning(Delivery.subscription_id)
    )
    return list(result.scalars())


def unclaim(
    session: Session, version_id: str, subscription_id: str, channel: str, error: str
) -> None:
    """Put a delivery back to pending after its send failed (the client went away)."""
    session.execute(
        update(Delivery)
        .where(
            Delivery.alert_version_id == version_id,
            Delivery.subscription_id == subscription_id,
            Delivery.channel == channel,
        )
        .values(state="pending", sent_at=None, error=error[:500])
    )


def pending_versions_for(
    session: Session, subscription_ids: list[str], channel: str = "websocket"
) -> list[tuple[str, str]]:
    """(version_id, subscription_id) pairs still pending for live versions, oldest first;
    drills only for residents opted in to them now."""
    if not subscription_ids:
        return []
    rows = session.execute(
        select(Delivery.alert_version_id, Delivery.subscription_id)
        .join(AlertVersion, AlertVersion.id == Delivery.alert_version_id)
        .join(Subscription, Subscription.id == Delivery.subscription_id)
        .where(
            Delivery.subscription_id.in_(subscription_ids),
            Delivery.channel == channel,
            Delivery.state == "pending",
            _live_version(),
            or_(AlertVersion.status == "Actual", Subscription.drills.is_(True)),
        )
        .order_by(AlertVersion.sent)
    ).all()
    return [(row[0], row[1]) for row in rows]


def catch_up(session: Session, subscription: Subscription) -> list[tuple[AlertVersion, bool]]:
    """What a resident connecting now must see: (latest version, already_sent) per active alert.

    Records a pending delivery for active alerts that cover their places but were issued before
    they registered, so the counts include them. Drills only for residents opted in to them:
    no replay either, even of one sent before they opted out.
    """
    active = session.scalars(
        select(Alert).where(Alert.state == "issued", Alert.expires > utcnow())
    ).all()
    result: list[tuple[AlertVersion, bool]] = []
    for alert in active:
        if is_drill(alert.status) and not subscription.drills:
            continue
        latest = alert.versions[-1]
        existing = session.scalar(
            select(Delivery.state).where(
                Delivery.alert_version_id == latest.id,
                Delivery.subscription_id == subscription.id,
                Delivery.channel == "websocket",
            )
        )
        if existing is None:
            area = shape(latest.area_geometry)
            if not any(place_in_area(session, place, area) for place in subscription.places):
                continue
            record_deliveries(session, latest.id, [subscription.id], "websocket")
            existing = "pending"
        result.append((latest, existing == "sent"))
    return result


def deliveries_summary(session: Session, user: User, alert_id: str) -> dict[str, Any]:
    """Counts for the alert's current version: recipients, per channel per state, acknowledged."""
    alert = get_alert(session, user, alert_id)
    if alert.state == "draft":
        raise Conflict("alert is a draft; nothing was delivered", code="not_issued")
    _require_own_or_reader(user, alert)
    version = alert.versions[-1]
    counts = session.execute(
        select(Delivery.channel, Delivery.state, func.count())
        .where(Delivery.alert_version_id == version.id)
        .group_by(Delivery.channel, Delivery.state)
    ).all()
    empty = {"pending": 0, "sent": 0, "delivered": 0, "failed": 0, "superseded": 0}
    # Every channel shows, even with nothing yet. `sent` counts all that left; `delivered` the
    # part of them the device confirmed with a receipt.
    channels: dict[str, dict[str, int]] = {channel: dict(empty) for channel in CHANNELS}
    for channel, state, count in counts:
        channels.setdefault(channel, dict(empty))
        channels[channel][state] = count
    for channel, count in receipts.delivered_counts(session, version.id).items():
        channels.setdefault(channel, dict(empty))
        channels[channel]["delivered"] = count
    recipients = session.scalar(
        select(func.count(distinct(Delivery.subscription_id))).where(
            Delivery.alert_version_id == version.id
        )
    )
    acknowledged = session.scalar(
        select(func.count())
        .select_from(Acknowledgement)
        .where(Acknowledgement.alert_id == alert.id)
    )
    return {
        "alert_id": alert.id,
        "version": version.version,
        "recipients": int(recipients or 0),
        "channels": channels,
        "acknowledged": int(acknowledged or 0),
    }


def _require_own_or_reader(user: User, alert: Alert) -> None:
    if user.role in ("admin", "media"):
        return
    if user.role == "officer":
        _require_own_alert(user, alert)
        return
    raise Forbidden("delivery figures are for officers of the alert's municipality")


def acknowledge(session: Session, subscription: Subscription, alert_id: str) -> bool:
    """Record that a resident acknowledged an alert sent to them; False if already recorded."""
    alert = session.get(Alert, alert_id)
    if alert is None or alert.state == "draft":
        raise NotFound(f"no alert {alert_id}", field="ack")
    received = session.scalar(
        select(func.count())
        .select_from(Delivery)
        .join(AlertVersion, AlertVersion.id == Delivery.alert_version_id)
        .where(AlertVersion.alert_id == alert_id, Delivery.subscription_id == subscription.id)
    )
    if not received:
        raise Conflict("this alert was not sent to you", field="ack")
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    result = session.execute(
        insert(Acknowledgement)
        .values(
            alert_id=alert_id,
            subscription_id=subscription.id,
            version=alert.current_version,
            acknowledged_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["alert_id", "subscription_id"])
        .returning(Acknowledgement.id)
    )
    return result.first() is not None


# ---------------------------------------------------------------------------------------------
# Messages


def choose_info(infos: list[dict[str, Any]], languages: list[str]) -> dict[str, Any]:
    """The info block in the best of the resident's languages; then Japanese; then the first."""

    def primary(tag: str) -> str:
        return tag.split("-")[0].lower()

    for wanted in languages:
        for info in infos:
            if info["language"].lower() == wanted.lower():
                return info
        for info in infos:
            if primary(info["language"]) == primary(wanted):
                return info
    for info in infos:
        if primary(info["language"]) == "ja":
            return info
    return infos[0]


def render_message(
    version: AlertVersion, languages: list[str], *, in_area: bool = True, replay: bool = False
) -> dict[str, Any]:
    """The JSON a resident's device receives for one alert version."""
    content = version.content
    info = choose_info(content["info"], languages)
    return {
        "type": "alert",
        "alert_id": version.alert_id,
        "version": version.version,
        "identifier": version.identifier,
        "msg_type": version.msg_type,
        "status": version.status,
        "event": content["event"],
        "category": content["category"],
        "severity": content["severity"],
        "urgency": content["urgency"],
        "certainty": content["certainty"],
        "evacuation_level": content.get("evacuation_level"),
        "sent": version.sent.isoformat(),
        "onset": content.get("onset"),
        "expires": version.expires.isoformat(),
        "references": version.references,
        "language": info["language"],
        # Marked for drills, so every channel showing the headline (a push title) says so.
        "headline": marked_headline(version.status, info["language"], info["headline"]),
        "description": info["description"],
        "instruction": info.get("instruction"),
        "cancel_reason": content.get("cancel_reason"),
        "area": version.area_geometry,
        "in_area": in_area,
        "replay": replay,
    }


# ---------------------------------------------------------------------------------------------
# Subscriptions


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _places(session: Session, body: SubscriptionIn) -> list[SubscriptionPlace]:
    places = []
    for index, place in enumerate(body.places):
        code = None
        if place.municipality_code is not None:
            field = f"places[{index}].municipality_code"
            try:
                code = normalize_municipality_code(place.municipality_code)
            except ValueError as exc:
                raise InvalidInput(str(exc), field=field) from None
            get_municipality(session, code, field=field)
        places.append(
            SubscriptionPlace(
                position=index,
                label=place.label,
                lon=place.lon,
                lat=place.lat,
                municipality_code=code,
            )
        )
    return places


def create_subscription(session: Session, body: SubscriptionIn) -> tuple[Subscription, str]:
    """Register a resident; returns the subscription and its secret token (shown once)."""
    token = secrets.token_urlsafe(32)
    subscription = Subscription(
        id=new_id(),
        token_hash=_token_hash(token),
        languages=body.languages,
        drills=body.drills,
        places=_places(session, body),
    )
    session.add(subscription)
    session.flush()
    emit(session, events.SUBSCRIPTION_CHANGED, {"subscription_id": subscription.id})
    resident = f"resident:{subscription.id}"
    audit.record(session, actor=resident, action="subscription.create", subject=subscription.id)
    return subscription, token


def subscription_by_token(session: Session, token: str | None) -> Subscription:
    """The subscription a resident's secret token belongs to."""
    if not token:
        raise NotAuthenticated("subscription token missing")
    subscription = session.scalar(
        select(Subscription).where(Subscription.token_hash == _token_hash(token))
    )
    if subscription is None:
        raise NotAuthenticated("unknown subscription token")
    return subscription


def _owned(session: Session, subscription_id: str, token: str | None) -> Subscription:
    subscription = subscription_by_token(session, token)
    if subscription.id != subscription_id:
        raise Forbidden("the token belongs to another subscription")
    return subscription


def replace_subscription(
    session: Session, subscription_id: str, token: str | None, body: SubscriptionIn
) -> Subscription:
    """Replace a subscription's places, languages and drills choice (authenticated by its token)."""
    subscription = _owned(session, subscription_id, token)
    subscription.places = _places(session, body)
    subscription.languages = body.languages
    subscription.drills = body.drills
    subscription.updated_at = utcnow()
    session.flush()
    emit(session, events.SUBSCRIPTION_CHANGED, {"subscription_id": subscription.id})
    resident = f"resident:{subscription.id}"
    audit.record(session, actor=resident, action="subscription.replace", subject=subscription.id)
    return subscription


def delete_subscription(session: Session, subscription_id: str, token: str | None) -> None:
    """Forget a resident: their places, deliveries and acknowledgements go with it."""
    subscription = _owned(session, subscription_id, token)
    session.execute(delete(Delivery).where(Delivery.subscription_id == subscription.id))
    session.execute(
        delete(Acknowledgement).where(Acknowledgement.subscription_id == subscription.id)
    )
    session.delete(subscription)
    resident = f"resident:{subscription_id}"
    audit.record(session, actor=resident, action="subscription.delete", subject=subscription_id)
    emit(
        session, events.SUBSCRIPTION_CHANGED, {"subscription_id": subscription_id, "deleted": True}
    )


def subscription_ids_for_version(session: Session, version_id: str) -> list[str]:
    """Every subscription with a delivery record for a version (any state)."""
    return list(
        session.scalars(
            select(Delivery.subscription_id).where(Delivery.alert_version_id == version_id)
        )
    )
