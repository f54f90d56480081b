"""The API's shapes for JMA telegrams."""

from __future__ import annotations

from pydantic import BaseModel


class AlertOutcomeOut(BaseModel):
    municipality_code: str
    alert_id: str
    version: int | None
    outcome: str
    msg_type: str
    identifier: str


class IngestOut(BaseModel):
    """The alerts one telegram made or changed, and what it named that we could not use."""

    type_code: str
    type_name: str
    status: str
    info_type: str
    alerts: list[AlertOutcomeOut]
    not_served: list[str]
    unmapped_areas: list[str]
    stale: list[str]


class SkippedOut(BaseModel):
    """A JMA telegram of a type we do not turn into alerts."""

    skipped: str
    type_code: str
    reason: str
