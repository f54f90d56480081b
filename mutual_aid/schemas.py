"""Pydantic shapes of the mutual aid API."""

from __future__ import annotations

from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator


class AidRequestIn(BaseModel):
    """A request for help; `contact` is shown only to the claimer, the requester and staff."""

    model_config = ConfigDict(extra="forbid")

    kind: str
    description: Annotated[str, Field(max_length=2000)] = ""
    lon: Annotated[float, Field(ge=-180, le=180)]
    lat: Annotated[float, Field(ge=-90, le=90)]
    people: Annotated[int, Field(ge=1, le=100)] = 1
    special_care: bool = False
    skills: Annotated[list[str], Field(max_length=10)] = []
    needed_by: AwareDatetime | None = None
    contact: Annotated[str | None, Field(max_length=300)] = None


class WindowIn(BaseModel):
    start: AwareDatetime
    end: AwareDatetime

    @model_validator(mode="after")
    def _ordered(self) -> WindowIn:
        if self.end <= self.start:
            raise ValueError("a window's end must be after its start")
        return self


class VolunteerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    skills: Annotated[list[str], Field(max_length=20)] = []
    vehicle: str = "none"
    lon: Annotated[float, Field(ge=-180, le=180)]
    lat: Annotated[float, Field(ge=-90, le=90)]
    radius_m: Annotated[float, Field(gt=0, le=50_000)] = 2_000
    availability: Annotated[list[WindowIn], Field(max_length=50)] = []
    max_active: Annotated[int, Field(ge=1, le=10)] = 1


class VolunteerOut(BaseModel):
    user_id: str
    skills: list[str]
    vehicle: str
    lon: float
    lat: float
    radius_m: float
    availability: list[dict[str, str]]
    max_active: int
    active: int


class AidRequestOut(BaseModel):
    """A request as the caller may see it: `exact` false means a ~500 m cell centre, no contact."""

    id: str
    kind: str
    description: str | None
    lon: float | None
    lat: float | None
    exact: bool
    municipality_code: str | None
    people: int
    special_care: bool
    skills: list[str]
    needed_by: str | None
    contact: str | None
    state: str
    hidden: bool
    claimed_by_me: bool
    created_at: str
    distance_m: float | None = None


class Proposal(BaseModel):
    request_id: str
    volunteer_id: str
    distance_m: float


class MatchOut(BaseModel):
    proposals: list[Proposal]
    requests_open: int
    volunteers_free: int
