"""Alerts (CAP-shaped, versioned), resident subscriptions, deliveries and acknowledgements."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kizuna.db import Base, new_id, utcnow


class Alert(Base):
    """One warning through its life: a draft, then issued versions, then cancelled or expired."""

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_state_expires", "state", "expires"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    municipality_code: Mapped[str] = mapped_column(String(6), index=True)
    # draft → issued → (updated: still issued, higher version) → cancelled | expired
    state: Mapped[str] = mapped_column(String(16), default="draft")
    status: Mapped[str] = mapped_column(String(16))
    current_version: Mapped[int] = mapped_column(default=0)
    # The content being drafted (before the first issue); issued content lives in versions.
    draft: Mapped[dict[str, Any]] = mapped_column(JSON)
    expires: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    # Set when the alert came from another system (CAP, JMA, L-Alert): its envelope and payload.
    origin: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    versions: Mapped[list[AlertVersion]] = relationship(
        back_populates="alert", order_by="AlertVersion.version", lazy="selectin"
    )


class AlertApproval(Base):
    """A request that a second officer approve issuing (or updating) an Actual alert."""

    __tablename__ = "alert_approvals"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    alert_id: Mapped[str] = mapped_column(ForeignKey("alerts.id"), index=True)
    # "issue" approves the draft as it stands; "update" carries the changes to apply.
    kind: Mapped[str] = mapped_column(String(16))
    changes: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    requested_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    # pending → approved | rejected | withdrawn
    state: Mapped[str] = mapped_column(String(16), default="pending")
    decided_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"), default=None)
    decided_at: Mapped[datetime | None] = mapped_column(default=None)
    reason: Mapped[str | None] = mapped_column(Text, default=None)


class AlertVersion(Base):
    """One issued message (CAP msgType Alert, Update or Cancel); never changed once written."""

    __tablename__ = "alert_versions"
    __table_args__ = (UniqueConstraint("alert_id", "version"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    alert_id: Mapped[str] = mapped_column(ForeignKey("alerts.id"), index=True)
    version: Mapped[int]
    identifier: Mapped[str] = mapped_column(String(200), unique=True)
    sender: Mapped[str] = mapped_column(String(200))
    msg_type: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    sent: Mapped[datetime]
    expires: Mapped[datetime]
    # CAP references: "sender,identifier,sent" of every earlier version.
    references: Mapped[list[str]] = mapped_column(JSON, default=list)
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    # The resolved area (union of geometry, circles and municipalities) as GeoJSON.
    area_geometry: Mapped[dict[str, Any]] = mapped_column(JSON)
    recipients_targeted: Mapped[int | None] = mapped_column(default=None)
    # Set once, by the fan-out run that split the recipients into chunks.
    chunks_total: Mapped[int | None] = mapped_column(default=None)
    fanout_completed_at: Mapped[datetime | None] = mapped_column(default=None, index=True)
    issued_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    origin: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)

    alert: Mapped[Alert] = relationship(back_populates="versions")


class Subscription(Base):
    """A resident's registration: places to watch and languages; authenticated by a secret."""

    __tablename__ = "subscriptions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    languages: Mapped[list[str]] = mapped_column(JSON)
    # Exercise and Test alerts reach only residents who opted in to drills.
    drills: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    places: Mapped[list[SubscriptionPlace]] = relationship(
        back_populates="subscription",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="SubscriptionPlace.position",
    )


class SubscriptionPlace(Base):
    """A point with a label (home, work) or a whole municipality a resident watches."""

    __tablename__ = "subscription_places"
    __table_args__ = (Index("ix_subscription_places_lon_lat", "lon", "lat"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    subscription_id: Mapped[str] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(default=0)
    label: Mapped[str | None] = mapped_column(String(100))
    lon: Mapped[float | None]
    lat: Mapped[float | None]
    municipality_code: Mapped[str | None] = mapped_column(String(6), index=True)

    subscription: Mapped[Subscription] = relationship(back_populates="places")


class Delivery(Base):
    """One message for one subscription on one channel; the unique key makes retries harmless."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("alert_version_id", "subscription_id", "channel"),
        Index("ix_deliveries_subscription_state", "subscription_id", "state"),
        Index("ix_deliveries_version_channel_state", "alert_version_id", "channel", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    alert_version_id: Mapped[str] = mapped_column(ForeignKey("alert_versions.id"))
    subscription_id: Mapped[str] = mapped_column(ForeignKey("subscriptions.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    # pending → sent | failed; superseded when a newer version replaced it before it went out.
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    # Set when the device confirmed it has the message (a receipt), not just that we sent it.
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)


class Acknowledgement(Base):
    """A resident confirmed they saw an alert (「確認しました」)."""

    __tablename__ = "acknowledgements"
    __table_args__ = (UniqueConstraint("alert_id", "subscription_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    alert_id: Mapped[str] = mapped_column(ForeignKey("alerts.id"), index=True)
    subscription_id: Mapped[str] = mapped_column(ForeignKey("subscriptions.id", ondelete="CASCADE"))
    version: Mapped[int]
    acknowledged_at: Mapped[datetime] = mapped_column(default=utcnow)


class FanoutChunk(Base):
    """A fixed slice of one version's recipients: the unit of fan-out work, retried until done."""

    __tablename__ = "fanout_chunks"
    __table_args__ = (UniqueConstraint("alert_version_id", "index"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    alert_version_id: Mapped[str] = mapped_column(ForeignKey("alert_versions.id"), index=True)
    index: Mapped[int]
    subscription_ids: Mapped[list[str]] = mapped_column(JSON)
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(default=None)


class ExternalMessage(Base):
    """A message received from another system, once per (sender, identifier): imports are
    idempotent, and later messages find the alert an earlier one created by its references."""

    __tablename__ = "external_messages"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    # "sender,identifier" as CAP references name a message (without the sent time).
    key: Mapped[str] = mapped_column(String(500), unique=True)
    source_format: Mapped[str] = mapped_column(String(16))
    alert_id: Mapped[str] = mapped_column(ForeignKey("alerts.id"), index=True)
    alert_version_id: Mapped[str | None] = mapped_column(ForeignKey("alert_versions.id"))
    outcome: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
