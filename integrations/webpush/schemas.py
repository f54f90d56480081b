"""The API's shapes for Web Push: a browser's PushSubscription as `toJSON()` gives it."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class PushKeysIn(BaseModel):
    """The browser's keys: its P-256 public key and the 16-byte authentication secret."""

    model_config = ConfigDict(str_strip_whitespace=True)

    p256dh: str = Field(max_length=200, description="base64url, 65 bytes (uncompressed point)")
    auth: str = Field(max_length=100, description="base64url, 16 bytes")


class PushSubscriptionIn(BaseModel):
    """`PushSubscription.toJSON()` from the resident's (or user's) browser, sent as is."""

    # Browsers may add members in future; what we do not know we ignore.
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, populate_by_name=True)

    endpoint: str = Field(max_length=2048, description="The push service URL (https)")
    keys: PushKeysIn
    expiration_time: int | None = Field(
        default=None,
        alias="expirationTime",
        description="Milliseconds since the epoch after which the push service refuses; or null",
    )


class PushSubscriptionOut(BaseModel):
    subscription_id: str
    endpoint: str
    expires_at: datetime | None
    created_at: datetime
    updated_at: datetime


class UserPushSubscriptionOut(BaseModel):
    user_id: str
    endpoint: str
    expires_at: datetime | None
    created_at: datetime
    updated_at: datetime


class PublicKeyOut(BaseModel):
    public_key: str = Field(
        description="The VAPID application server key for PushManager.subscribe: base64url of "
        "the uncompressed P-256 point (65 bytes)"
    )
