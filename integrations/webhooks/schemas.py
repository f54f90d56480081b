"""The API's shapes for webhook endpoints and their delivery log."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

WebhookFormat = Literal["json", "cap"]
MIN_SECRET_LENGTH = 16


class WebhookCreate(BaseModel):
    """A receiver to register: where, the shared secret (or none: we make one), which format."""

    # Not stripped: a secret is used byte for byte on both sides.
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=2000)
    secret: str | None = Field(default=None, min_length=MIN_SECRET_LENGTH, max_length=256)
    format: WebhookFormat = "json"
    municipality_codes: list[str] | None = Field(default=None, max_length=200)


class WebhookOut(BaseModel):
    """A registered endpoint as listed: never with its secret."""

    id: str
    owner: str
    url: str
    format: WebhookFormat
    municipality_codes: list[str] | None
    created_at: datetime


class WebhookCreated(WebhookOut):
    """The answer to a registration: the only time the secret is shown."""

    secret: str


class AttemptOut(BaseModel):
    number: int
    started_at: datetime
    finished_at: datetime | None
    status_code: int | None
    error: str | None
    retry_in_s: float | None


class DeliveryOut(BaseModel):
    """One alert version's delivery to an endpoint, with every attempt."""

    delivery_id: str
    event: str
    alert_id: str
    alert_version_id: str
    version: int
    msg_type: str
    state: Literal["pending", "sending", "succeeded", "failed"]
    attempts: list[AttemptOut]
    created_at: datetime
    next_attempt_at: datetime | None
    completed_at: datetime | None
    last_status_code: int | None
    last_error: str | None
