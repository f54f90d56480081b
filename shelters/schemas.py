"""The API's shapes for shelters."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Status = Literal["closed", "open", "full"]
WifiStatus = Literal["up", "degraded", "down", "unknown"]
Hazard = Literal[
    "flood", "landslide", "storm_surge", "earthquake", "tsunami", "fire", "inland_flood", "volcano"
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class WifiPatch(Strict):
    status: WifiStatus | None = None
    ssid: str | None = Field(default=None, max_length=32)


class ShelterPatch(Strict):
    """Fields a manager or officer may change; give only those that change."""

    status: Status | None = None
    capacity: int | None = Field(default=None, ge=0, le=1_000_000)
    occupancy: int | None = Field(default=None, ge=0, le=1_000_000)
    wifi: WifiPatch | None = None
    pets_allowed: bool | None = None
    accessible: bool | None = None
    needs: dict[str, int] | None = Field(
        default=None, description='Supplies needed with counts, e.g. {"water": 200}.'
    )
    notes: str | None = Field(default=None, max_length=2000)
    override: bool = Field(default=False, description="Record occupancy above capacity anyway.")

    @field_validator("needs")
    @classmethod
    def _needs(cls, value: dict[str, int] | None) -> dict[str, int] | None:
        if value is None:
            return None
        if len(value) > 50:
            raise ValueError("at most 50 kinds of need")
        for item, count in value.items():
            if not 1 <= len(item) <= 40:
                raise ValueError(f"need name {item!r} must be 1-40 characters")
            if not isinstance(count, int) or count < 0:
                raise ValueError(f"need {item!r} must be a count of 0 or more")
        return value


class OccupancyChange(Strict):
    delta: int = Field(
        ge=-10_000, le=10_000, description="Check-ins positive, check-outs negative."
    )
    override: bool = False


class ManagerAssignment(Strict):
    username: str


class WifiOut(BaseModel):
    status: str
    ssid: str | None
    checked_at: str | None


class ShelterOut(BaseModel):
    id: str
    source_id: str
    name: str
    address: str | None
    municipality_code: str
    lon: float
    lat: float
    kind: str
    hazards: list[str]
    status: str
    capacity: int | None
    occupancy: int
    has_room: bool
    wifi: WifiOut
    pets_allowed: bool | None
    accessible: bool | None
    needs: dict[str, int]
    phone: str | None
    notes: str | None
    revision: int
    updated_by: str | None
    updated_at: str
    distance_m: float | None = None


class HistoryPoint(BaseModel):
    at: str
    status: str
    occupancy: int
    capacity: int | None
    wifi_status: str
    source: str
    actor: str | None
