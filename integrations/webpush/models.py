"""Tables of the webpush integration: a browser push subscription of a resident or a user."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

import alerts.models  # noqa: F401  (the subscriptions table our foreign key names)
import kizuna.models  # noqa: F401  (the users table our foreign key names)
from kizuna.db import Base, new_id, utcnow


class PushSubscription(Base):
    """Where a phone receives Web Push (RFC 8030): one per resident subscription or per user.

    Exactly one owner is set: `subscription_id` (a resident, for alerts and aid requests) or
    `user_id` (a logged-in responder, volunteer or officer, for dispatch offers and aid steps).

    The keys are the browser's: `p256dh` (its P-256 public key, 65 bytes) and `auth` (16 bytes),
    kept base64url without padding exactly as `PushSubscription.toJSON()` gives them.
    """

    __tablename__ = "webpush_subscriptions"
    __table_args__ = (
        CheckConstraint("(subscription_id IS NULL) <> (user_id IS NULL)", name="one_owner"),
    )

    # Rows made before 0012 keep their subscription id as their id.
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    # Deleting the resident's subscription (or the user) deletes this too (ON DELETE CASCADE in
    # the database: neither the alerts package nor kizuna knows this table exists).
    subscription_id: Mapped[str | None] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="CASCADE"), unique=True, default=None
    )
    user_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), unique=True, default=None
    )
    endpoint: Mapped[str] = mapped_column(String(2048))
    p256dh: Mapped[str] = mapped_column(String(100))
    auth: Mapped[str] = mapped_column(String(32))
    # The browser's expirationTime, when it gave one: after it the push service refuses us.
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
