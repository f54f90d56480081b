"""The API's shapes for responders, incidents, dispatches and responses."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ResponderKind = Literal["fire_corps", "staff"]
Availability = Literal["available", "busy", "off"]
IncidentKind = Literal[
    "fire",
    "flood_watch",
    "levee_patrol",
    "search",
    "evacuation_support",
    "shelter_support",
    "other",
]
Status = Literal["en_route", "on_scene", "cleared"]

MIN_RADIUS_M = 100
MAX_RADIUS_M = 50_000


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ProfileIn(Strict):
    """A responder's own profile; skills come from the fixed vocabulary (dispatch.models.SKILLS)."""

    kind: ResponderKind
    unit: str | None = Field(default=None, max_length=100)
    skills: list[str] = Field(default_factory=list, max_length=30)
    availability: Availability = "available"
    availability_until: datetime | None = None
    phone: str | None = Field(default=None, max_length=50)
    lon: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)


class IncidentIn(Strict):
    kind: IncidentKind
    description: str = Field(min_length=1, max_length=2000)
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    municipality_code: str


class DispatchIn(Strict):
    needed: int = Field(ge=1, le=500)
    skills: list[str] = Field(default_factory=list, max_length=10)
    responder_kind: ResponderKind | None = None
    radius_m: float = Field(default=3000, ge=MIN_RADIUS_M, le=MAX_RADIUS_M)
    respond_within_s: int = Field(default=300, ge=1, le=86_400)
    escalate_after_s: int = Field(default=300, ge=1, le=86_400)


class ResponseIn(Strict):
    accept: bool
    eta_min: int | None = Field(default=None, ge=0, le=24 * 60)


class StatusIn(Strict):
    status: Status


class StaffCallIn(Strict):
    """An officer's call for staff at a shelter (避難所運営の応援要請)."""

    needed: int = Field(ge=1, le=200)
    skills: list[str] = Field(default_factory=list, max_length=10)
    description: str = Field(default="", max_length=2000)
    radius_m: float = Field(default=10_000, ge=MIN_RADIUS_M, le=MAX_RADIUS_M)
    respond_within_s: int = Field(default=900, ge=1, le=86_400)
    escalate_after_s: int = Field(default=900, ge=1, le=86_400)
