"""Tables of the webpush integration: a resident's browser push subscription."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

import alerts.models  # noqa: F401  (the subscriptions table our foreign key names)
from kizuna.db import Base, utcnow


class PushSubscription(Base):
    """Where a resident's phone receives Web Push (RFC 8030): one per resident subscription.

    The keys are the browser's: `p256dh` (its P-256 public key, 65 bytes) and `auth` (16 bytes),
    kept base64url without padding exactly as `PushSubscription.toJSON()` gives them.
    """

    __tablename__ = "webpush_subscriptions"

    # Deleting the resident's subscription deletes this too (ON DELETE CASCADE in the database:
    # the alerts package does not know this table exists).
    subscription_id: Mapped[str] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="CASCADE"), primary_key=True
    )
    endpoint: Mapped[str] = mapped_column(String(2048))
    p256dh: Mapped[str] = mapped_column(String(100))
    auth: Mapped[str] = mapped_column(String(32))
    # The browser's expirationTime, when it gave one: after it the push service refuses us.
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
