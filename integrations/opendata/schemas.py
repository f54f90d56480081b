"""Shapes of the open-data import API."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ProblemOut(BaseModel):
    line: int = Field(description="CSV line (header = 1) or GeoJSON feature number (first = 1)")
    reason: str


class ImportOut(BaseModel):
    format: str = Field(description="layout and container, e.g. gsi_geojson, standard_csv")
    encoding: str = Field(description="utf-8, utf-8-bom, shift_jis or cp932")
    created: int
    updated: int
    unchanged: int
    history_points: int = Field(description="status snapshots stored as history points")
    history_unchanged: int = Field(description="status snapshots already stored")
    errors: list[ProblemOut] = Field(description="rows not imported, with the reason")
    warnings: list[ProblemOut] = Field(description="rows imported, with something to check")
