"""Delivery receipts: a device confirms it holds an alert version, so "sent" becomes "delivered".

A live connection says so over its own authenticated socket. A Web Push payload carries a
receipt token (the delivery id with an HMAC), so the service worker can confirm without holding
any secret of the resident's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from alerts.models import AlertVersion, Delivery
from kizuna.db import utcnow
from kizuna.errors import InvalidInput

_MAC_BYTES = 16


def _mac(secret: str, delivery_id: int) -> str:
    digest = hmac.new(secret.encode(), f"receipt:{delivery_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:_MAC_BYTES]).decode().rstrip("=")


def receipt_token(secret: str, delivery_id: int) -> str:
    """The token a device sends back to confirm one delivery."""
    return f"{delivery_id}.{_mac(secret, delivery_id)}"


def delivery_of(secret: str, token: str) -> int:
    """The delivery id a receipt token names, or InvalidInput if it was not made by us."""
    number, _, mac = token.partition(".")
    if not number.isdigit() or len(number) > 18 or not mac:
        raise InvalidInput("receipt is not a Kizuna receipt token", field="receipt")
    delivery_id = int(number)
    if not hmac.compare_digest(mac, _mac(secret, delivery_id)):
        raise InvalidInput("receipt token does not verify", field="receipt")
    return delivery_id


def _mark(session: Session, *conditions: object) -> bool:
    # A receipt proves the device has it: a delivery still pending (or marked failed after a
    # timeout that in fact got through) counts as sent, so it is not sent again.
    result = session.execute(
        update(Delivery)
        .where(Delivery.delivered_at.is_(None), *conditions)  # type: ignore[arg-type]
        .values(
            delivered_at=utcnow(),
            state="sent",
            sent_at=func.coalesce(Delivery.sent_at, utcnow()),
            error=None,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def record_token_receipt(session: Session, secret: str, token: str) -> bool:
    """Mark the delivery a token names as delivered; False if it already was."""
    delivery_id = delivery_of(secret, token)
    if session.get(Delivery, delivery_id) is None:
        raise InvalidInput("receipt names no delivery", field="receipt")
    return _mark(session, Delivery.id == delivery_id, Delivery.state != "superseded")


def record_live_receipt(
    session: Session, subscription_id: str, alert_id: str, version: int, channel: str
) -> bool:
    """Mark one subscription's delivery of `alert_id` version `version` on `channel` delivered."""
    version_id = session.scalar(
        select(AlertVersion.id).where(
            AlertVersion.alert_id == alert_id, AlertVersion.version == version
        )
    )
    if version_id is None:
        raise InvalidInput(f"no version {version} of alert {alert_id}", field="received")
    return _mark(
        session,
        Delivery.alert_version_id == version_id,
        Delivery.subscription_id == subscription_id,
        Delivery.channel == channel,
        Delivery.state != "superseded",
    )


def delivered_counts(session: Session, version_id: str) -> dict[str, int]:
    """Confirmed deliveries of one version, by channel."""
    rows = session.execute(
        select(Delivery.channel, func.count())
        .where(Delivery.alert_version_id == version_id, Delivery.delivered_at.is_not(None))
        .group_by(Delivery.channel)
    ).all()
    return {channel: int(count) for channel, count in rows}
