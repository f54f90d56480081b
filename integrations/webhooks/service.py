"""Webhook endpoints: registration, listing, deletion, which alerts they get, their delivery log."""

from __future__ import annotations

import secrets
from typing import Any

from shapely.geometry import shape
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from alerts.models import Alert, AlertVersion
from gis import normalize_municipality_code
from integrations.webhooks.addresses import Resolver, check_webhook_url, resolve_host
from integrations.webhooks.models import WebhookDelivery, WebhookEndpoint
from integrations.webhooks.schemas import WebhookCreate
from kizuna import audit
from kizuna.areas import get_municipality, municipalities_intersecting
from kizuna.db import new_id, utcnow
from kizuna.errors import Conflict, Forbidden, InvalidInput, NotFound
from kizuna.models import User
from kizuna.settings import Settings

REGISTRANT_ROLES = ("media", "admin")
# Every endpoint multiplies each alert's outgoing POSTs; a handful per organisation is plenty.
MAX_ENDPOINTS_PER_OWNER = 20


def _audit(session: Session, user: User, action: str, subject: str, **detail: Any) -> None:
    audit.record(session, actor=user, action=action, subject=subject, **detail)


def _require_registrant(user: User) -> None:
    if user.role not in REGISTRANT_ROLES:
        raise Forbidden("only media and admin accounts may manage webhooks")


def _municipality_codes(session: Session, raw_codes: list[str] | None) -> list[str] | None:
    if not raw_codes:
        return None
    codes: list[str] = []
    for index, raw in enumerate(raw_codes):
        field = f"municipality_codes[{index}]"
        try:
            code = normalize_municipality_code(raw)
        except ValueError as exc:
            raise InvalidInput(str(exc), field=field) from None
        get_municipality(session, code, field=field)
        if code not in codes:
            codes.append(code)
    return codes


def create_endpoint(
    session: Session,
    settings: Settings,
    user: User,
    body: WebhookCreate,
    resolve: Resolver = resolve_host,
) -> WebhookEndpoint:
    """Register a receiver after checking its URL (public hosts only in production).

    Without a secret in `body` one is generated; the caller shows it once and never again.
    """
    _require_registrant(user)
    url = check_webhook_url(body.url, settings.environment == "production", resolve)
    codes = _municipality_codes(session, body.municipality_codes)
    owned = session.scalar(
        select(func.count())
        .select_from(WebhookEndpoint)
        .where(WebhookEndpoint.owner_id == user.id, WebhookEndpoint.deleted_at.is_(None))
    )
    if (owned or 0) >= MAX_ENDPOINTS_PER_OWNER:
        raise Conflict(
            f"you already have {MAX_ENDPOINTS_PER_OWNER} webhooks; delete one first", field="url"
        )
    endpoint = WebhookEndpoint(
        id=new_id(),
        owner_id=user.id,
        url=url,
        secret=body.secret if body.secret is not None else secrets.token_urlsafe(32),
        format=body.format,
        municipality_codes=codes,
        created_at=utcnow(),
    )
    session.add(endpoint)
    _audit(
        session, user, "webhook.create", endpoint.id, url=audit.safe_url(url), format=body.format
    )
    session.flush()
    return endpoint


def list_endpoints(session: Session, user: User) -> list[WebhookEndpoint]:
    """The caller's live endpoints, oldest first; an admin sees everyone's."""
    _require_registrant(user)
    query = (
        select(WebhookEndpoint)
        .where(WebhookEndpoint.deleted_at.is_(None))
        .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
    )
    if user.role != "admin":
        query = query.where(WebhookEndpoint.owner_id == user.id)
    return list(session.scalars(query))


def owner_names(session: Session, endpoints: list[WebhookEndpoint]) -> dict[str, str]:
    """User names of the endpoints' owners, by user id."""
    ids = {endpoint.owner_id for endpoint in endpoints}
    if not ids:
        return {}
    rows = session.execute(select(User.id, User.username).where(User.id.in_(ids))).all()
    return {user_id: username for user_id, username in rows}


def get_endpoint(session: Session, user: User, endpoint_id: str) -> WebhookEndpoint:
    """One live endpoint of the caller (any, for an admin); others' look the same as missing."""
    _require_registrant(user)
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if (
        endpoint is None
        or endpoint.deleted_at is not None
        or (user.role != "admin" and endpoint.owner_id != user.id)
    ):
        raise NotFound(f"no webhook {endpoint_id}")
    return endpoint


def delete_endpoint(session: Session, user: User, endpoint_id: str) -> None:
    """Stop delivering to an endpoint; its log stays for the audit trail, unlisted."""
    endpoint = get_endpoint(session, user, endpoint_id)
    now = utcnow()
    endpoint.deleted_at = now
    # Retries not yet made will not be made; an attempt in flight finishes and is logged.
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.state == "pending")
        .values(state="failed", completed_at=now, last_error="webhook deleted")
    )
    _audit(session, user, "webhook.delete", endpoint.id, url=audit.safe_url(endpoint.url))


def list_deliveries(
    session: Session, user: User, endpoint_id: str, limit: int = 100
) -> list[tuple[WebhookDelivery, AlertVersion]]:
    """An endpoint's deliveries, newest first, each with its alert version."""
    endpoint = get_endpoint(session, user, endpoint_id)
    rows = session.execute(
        select(WebhookDelivery, AlertVersion)
        .join(AlertVersion, AlertVersion.id == WebhookDelivery.alert_version_id)
        .where(WebhookDelivery.endpoint_id == endpoint.id)
        .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())
        .limit(limit)
    ).all()
    return [(delivery, version) for delivery, version in rows]


def version_municipalities(session: Session, version: AlertVersion) -> set[str]:
    """The municipalities an alert version concerns: its sender's, those it names or overlaps."""
    codes: set[str] = set()
    alert = session.get(Alert, version.alert_id)
    if alert is not None:
        codes.add(alert.municipality_code)
    area = version.content.get("area") or {}
    codes.update(area.get("municipality_codes") or [])
    geometry = shape(version.area_geometry)
    if not geometry.is_empty:
        codes.update(m.code for m in municipalities_intersecting(session, geometry))
    return codes


def endpoints_for_version(session: Session, version: AlertVersion) -> list[WebhookEndpoint]:
    """Live endpoints that want this version: no filter, or a filter it matches."""
    endpoints = list(
        session.scalars(
            select(WebhookEndpoint)
            # A disabled account's endpoints fall silent with it.
            .join(User, User.id == WebhookEndpoint.owner_id)
            .where(WebhookEndpoint.deleted_at.is_(None), User.active.is_(True))
            .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
        )
    )
    if any(endpoint.municipality_codes for endpoint in endpoints):
        concerned = version_municipalities(session, version)
    else:
        concerned = set()
    return [
        endpoint
        for endpoint in endpoints
        if not endpoint.municipality_codes or concerned.intersection(endpoint.municipality_codes)
    ]
