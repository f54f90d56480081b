"""The API's shapes for alerts and subscriptions."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import langcodes
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

Status = Literal["Actual", "Exercise", "Test", "Draft"]
Category = Literal[
    "Geo",
    "Met",
    "Safety",
    "Security",
    "Rescue",
    "Fire",
    "Health",
    "Env",
    "Transport",
    "Infra",
    "CBRNE",
    "Other",
]
Severity = Literal["Extreme", "Severe", "Moderate", "Minor", "Unknown"]
Urgency = Literal["Immediate", "Expected", "Future", "Past", "Unknown"]
Certainty = Literal["Observed", "Likely", "Possible", "Unlikely", "Unknown"]
Channel = Literal["websocket"]
Hazard = Literal[
    "flood", "landslide", "storm_surge", "earthquake", "tsunami", "fire", "inland_flood", "volcano"
]


def normalize_language(tag: str) -> str:
    """A BCP 47 tag in its standard form (`en-us` → `en-US`); ValueError when it is not one."""
    if not isinstance(tag, str) or not tag.strip() or not langcodes.tag_is_valid(tag.strip()):
        raise ValueError(f"unknown language tag {tag!r}; use a BCP 47 tag such as ja, en, zh-Hans")
    return langcodes.standardize_tag(tag.strip())


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Circle(Strict):
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    radius_km: float = Field(gt=0, le=1000)


class AreaIn(Strict):
    """Where an alert applies: any mix of a GeoJSON geometry, CAP circles, municipalities and
    districts (ids from `GET /api/v1/municipalities/{code}/districts`)."""

    geometry: dict[str, Any] | None = None
    circles: list[Circle] | None = Field(default=None, max_length=50)
    municipality_codes: list[str] | None = Field(default=None, max_length=200)
    district_ids: list[str] | None = Field(default=None, max_length=200)

    @model_validator(mode="after")
    def _not_empty(self) -> AreaIn:
        if (
            not self.geometry
            and not self.circles
            and not self.municipality_codes
            and not self.district_ids
        ):
            raise ValueError(
                "area is empty: give a geometry, circles, municipality_codes or district_ids"
            )
        return self


class InfoIn(Strict):
    """The alert's text in one language (CAP <info>)."""

    language: str
    headline: str = Field(min_length=1, max_length=200)
    description: str = Field(min_length=1, max_length=8000)
    instruction: str | None = Field(default=None, max_length=4000)

    @field_validator("language")
    @classmethod
    def _language(cls, value: str) -> str:
        return normalize_language(value)


class AlertContent(Strict):
    """Everything an officer writes in an alert; shared by create, update and the stored copy."""

    event: str = Field(min_length=1, max_length=200)
    category: Category = "Safety"
    severity: Severity
    urgency: Urgency
    certainty: Certainty
    status: Status = "Actual"
    evacuation_level: int | None = Field(default=None, ge=1, le=5)
    hazard: Hazard | None = Field(
        default=None, description="What to shelter from; picks suitable shelters for residents."
    )
    onset: AwareDatetime | None = None
    expires: AwareDatetime
    area: AreaIn
    info: list[InfoIn] = Field(min_length=1, max_length=30)
    municipality_code: str | None = Field(
        default=None, description="Sending municipality; defaults to the officer's own."
    )

    @field_validator("info")
    @classmethod
    def _one_info_per_language(cls, value: list[InfoIn]) -> list[InfoIn]:
        seen: set[str] = set()
        for info in value:
            if info.language in seen:
                raise ValueError(f"two info blocks for language {info.language}")
            seen.add(info.language)
        return value


class AlertCreate(AlertContent):
    pass


class AlertUpdate(Strict):
    """An update replaces the fields given and keeps the rest of the current version."""

    event: str | None = Field(default=None, min_length=1, max_length=200)
    category: Category | None = None
    severity: Severity | None = None
    urgency: Urgency | None = None
    certainty: Certainty | None = None
    evacuation_level: int | None = Field(default=None, ge=1, le=5)
    hazard: Hazard | None = None
    onset: AwareDatetime | None = None
    expires: AwareDatetime | None = None
    area: AreaIn | None = None
    info: list[InfoIn] | None = Field(default=None, min_length=1, max_length=30)


class AlertCancel(Strict):
    reason: str | None = Field(default=None, max_length=2000)


ApprovalKind = Literal["issue", "update"]
ApprovalState = Literal["pending", "approved", "rejected", "withdrawn"]


class ApprovalRequest(Strict):
    """Ask a second officer to approve: a draft as it stands, or `changes` to an issued alert."""

    changes: AlertUpdate | None = Field(
        default=None, description="For an issued alert: the update to approve (as /update)."
    )


class ApprovalReject(Strict):
    reason: str = Field(min_length=1, max_length=2000)


class ApprovalOut(BaseModel):
    """One approval request and its decision; users by username."""

    id: str
    alert_id: str
    kind: ApprovalKind
    changes: dict[str, Any] | None
    state: ApprovalState
    requested_by: str
    requested_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    reason: str | None
    can_approve: bool = Field(description="The caller may approve or reject it now.")


class ApprovalListItem(ApprovalOut):
    """An approval with what the approver needs to judge it: the alert as it would go out."""

    headline: str
    status: str
    evacuation_level: int | None
    alert_state: str
    municipality_code: str


class PreviewIn(Strict):
    area: AreaIn
    municipality_code: str | None = None
    status: Status = Field(
        default="Actual",
        description="The alert's status: anything but Actual counts only residents who opted "
        "in to drills.",
    )


class PreviewOut(BaseModel):
    recipients: int
    places: int
    area: dict[str, Any]


class VersionOut(BaseModel):
    version: int
    identifier: str
    sender: str
    msg_type: str
    status: str
    sent: datetime
    expires: datetime
    references: list[str]
    recipients_targeted: int | None
    content: dict[str, Any]
    area_geometry: dict[str, Any]


class AlertOut(BaseModel):
    id: str
    municipality_code: str
    state: str
    status: str
    active: bool
    current_version: int
    expires: datetime
    created_at: datetime
    updated_at: datetime
    content: dict[str, Any]
    versions: list[VersionOut]
    approval: ApprovalOut | None = Field(
        default=None, description="The pending approval, else the latest decided one."
    )


class IssueOut(BaseModel):
    id: str
    version: int
    identifier: str
    msg_type: str
    recipients: int
    delivery: Literal["queued", "in_progress"] = "queued"


class ChannelCounts(BaseModel):
    pending: int = 0
    sent: int = Field(default=0, description="Left us (includes those delivered).")
    delivered: int = Field(default=0, description="Sent and confirmed by the device's receipt.")
    failed: int = 0
    superseded: int = 0


class ReceiptIn(Strict):
    """A receipt token from a Web Push payload, sent back by the service worker."""

    receipt: str = Field(min_length=3, max_length=100)


class DeliveriesOut(BaseModel):
    alert_id: str
    version: int
    recipients: int
    channels: dict[str, ChannelCounts]
    acknowledged: int


class PlaceIn(Strict):
    label: str | None = Field(default=None, max_length=100)
    lon: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)
    municipality_code: str | None = None

    @model_validator(mode="after")
    def _point_or_municipality(self) -> PlaceIn:
        has_point = self.lon is not None or self.lat is not None
        if has_point and (self.lon is None or self.lat is None):
            raise ValueError("a point place needs both lon and lat")
        if has_point == (self.municipality_code is not None):
            raise ValueError("a place is either a point (lon, lat) or a municipality_code")
        return self


class SubscriptionIn(Strict):
    places: list[PlaceIn] = Field(min_length=1, max_length=10)
    languages: list[str] = Field(default_factory=lambda: ["ja"], min_length=1, max_length=5)
    # Strict: "yes" or 1 must not opt anyone in to drills by accident.
    drills: bool = Field(
        default=False,
        strict=True,
        description="Also receive Exercise and Test alerts (訓練). Off: only Actual alerts.",
    )

    @field_validator("languages")
    @classmethod
    def _languages(cls, value: list[str]) -> list[str]:
        normalized: list[str] = []
        for tag in value:
            language = normalize_language(tag)
            if language not in normalized:
                normalized.append(language)
        return normalized


class PlaceOut(BaseModel):
    label: str | None
    lon: float | None
    lat: float | None
    municipality_code: str | None


class SubscriptionOut(BaseModel):
    id: str
    places: list[PlaceOut]
    languages: list[str]
    drills: bool = Field(default=False, description="Receives Exercise and Test alerts too.")
    created_at: datetime
    updated_at: datetime


class SubscriptionCreated(SubscriptionOut):
    token: str = Field(description="Keep this secret: it authenticates PUT, DELETE and /ws/alerts.")
