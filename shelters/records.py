"""Plain records the open-data importers produce and the shelters service stores."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class ShelterRecord:
    """One shelter as a source file describes it (after parsing, before storing)."""

    source_id: str
    name: str
    lon: float
    lat: float
    municipality_code: str
    kind: str = "evacuation_site"
    hazards: list[str] = field(default_factory=list)
    address: str | None = None
    capacity: int | None = None
    phone: str | None = None
    line: int | None = None  # where it came from, for error reports


@dataclass
class SnapshotRecord:
    """A published status point: this shelter was open with this many evacuees at this time."""

    at: datetime
    occupancy: int
    municipality_code: str
    source_id: str | None = None
    name: str | None = None
    status: str = "open"
    capacity: int | None = None
    line: int | None = None


@dataclass
class RowProblem:
    line: int
    reason: str
    warning: bool = False


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    history_points: int = 0
    problems: list[RowProblem] = field(default_factory=list)

    @property
    def errors(self) -> list[RowProblem]:
        return [p for p in self.problems if not p.warning]

    @property
    def warnings(self) -> list[RowProblem]:
        return [p for p in self.problems if p.warning]
