"""Tables of the webhooks integration: endpoints, one delivery per (endpoint, version), attempts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kizuna.db import Base, new_id, utcnow


class WebhookEndpoint(Base):
    """A receiver a media user (or another system) registered: where to POST, and how to sign.

    The secret is kept as given, not hashed: unlike a password we must use it to sign every
    delivery. Whoever reads this table can forge our signatures to that receiver, so database
    access and backups need the same care as the JWT key (see docs/integrations/webhooks.md).
    """

    __tablename__ = "webhook_endpoints"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(256))
    # "json" or "cap" (CAP 1.2 XML).
    format: Mapped[str] = mapped_column(String(8))
    # Only alerts touching these municipalities; None = every alert.
    municipality_codes: Mapped[list[str] | None] = mapped_column(JSON, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Deleted endpoints are kept (with their delivery log) for the audit trail, never used again.
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)


class WebhookDelivery(Base):
    """One alert version for one endpoint; the unique key means it is POSTed until it succeeds once.

    pending → sending → succeeded | failed, or back to pending (with `next_attempt_at`) after a
    failure worth retrying.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "alert_version_id"),
        Index("ix_webhook_deliveries_state_next_attempt_at", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    # Sent as X-Kizuna-Delivery on every attempt, so receivers can drop duplicates.
    delivery_id: Mapped[str] = mapped_column(String(36), unique=True, default=new_id)
    # The unique key above (endpoint first) serves "this endpoint's deliveries" too.
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("webhook_endpoints.id"))
    alert_version_id: Mapped[str] = mapped_column(ForeignKey("alert_versions.id"))
    event: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    # When the attempt in flight was claimed; a claim older than the lease is taken over.
    claimed_at: Mapped[datetime | None] = mapped_column(default=None)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)
    last_status_code: Mapped[int | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)

    attempt_log: Mapped[list[WebhookAttempt]] = relationship(
        back_populates="delivery", order_by="WebhookAttempt.number", lazy="selectin"
    )


class WebhookAttempt(Base):
    """One POST of a delivery: when, the receiver's status code or the network error."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (UniqueConstraint("webhook_delivery_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    # Indexed by the unique key above (delivery first).
    webhook_delivery_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE")
    )
    number: Mapped[int]
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    status_code: Mapped[int | None] = mapped_column(default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    # The wait chosen before the next attempt (backoff or Retry-After); None when final.
    retry_in_s: Mapped[float | None] = mapped_column(default=None)

    delivery: Mapped[WebhookDelivery] = relationship(back_populates="attempt_log")
