"""Municipality areas: importing boundaries and looking up their geometry by code."""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path

import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import select
from sqlalchemy.orm import Session

from gis import load_boundaries, to_geojson
from kizuna.db import utcnow
from kizuna.errors import InvalidInput
from kizuna.models import Municipality

_cache: dict[tuple[str, datetime], BaseGeometry] = {}
_cache_lock = threading.Lock()


def import_boundaries(
    session: Session, path: str | Path, code_property: str, name_property: str
) -> tuple[list[Municipality], list[str]]:
    """Insert or replace municipality areas from a GeoJSON file; returns (areas, skipped)."""
    result = load_boundaries(path, code_property, name_property)
    stored: list[Municipality] = []
    for area in result.areas:
        stored.append(upsert_municipality(session, area.code, area.name, area.geometry))
    return stored, result.skipped


def upsert_municipality(
    session: Session, code: str, name: str, geometry: BaseGeometry
) -> Municipality:
    """Store one municipality's merged boundary under its 6-digit code."""
    min_lon, min_lat, max_lon, max_lat = geometry.bounds
    municipality = session.get(Municipality, code)
    if municipality is None:
        municipality = Municipality(code=code)
        session.add(municipality)
    municipality.name = name
    municipality.geometry = to_geojson(geometry)
    municipality.min_lon, municipality.min_lat = min_lon, min_lat
    municipality.max_lon, municipality.max_lat = max_lon, max_lat
    municipality.imported_at = utcnow()
    session.flush()
    return municipality


def municipality_geometry(municipality: Municipality) -> BaseGeometry:
    """The shapely boundary of a municipality, parsed once per import and prepared."""
    key = (municipality.code, municipality.imported_at)
    with _cache_lock:
        geometry = _cache.get(key)
    if geometry is None:
        geometry = shape(municipality.geometry)
        shapely.prepare(geometry)
        with _cache_lock:
            _cache[key] = geometry
    return geometry


def get_municipality(session: Session, code: str, field: str = "municipality_code") -> Municipality:
    """The municipality with `code`, or InvalidInput naming the field."""
    municipality = session.get(Municipality, code)
    if municipality is None:
        raise InvalidInput(f"unknown municipality code {code}", field=field)
    return municipality


def union_of(session: Session, codes: list[str]) -> BaseGeometry:
    """The merged area of several municipalities (empty geometry when none)."""
    geometries = [municipality_geometry(get_municipality(session, code)) for code in codes]
    if not geometries:
        return shapely.Polygon()
    return shapely.union_all(geometries)


def municipalities_intersecting(session: Session, area: BaseGeometry) -> list[Municipality]:
    """Municipalities whose interior shares ground with `area` (touching edges do not count)."""
    min_lon, min_lat, max_lon, max_lat = area.bounds
    candidates = session.scalars(
        select(Municipality).where(
            Municipality.min_lon <= max_lon,
            Municipality.max_lon >= min_lon,
            Municipality.min_lat <= max_lat,
            Municipality.max_lat >= min_lat,
        )
    )
    return [
        municipality
        for municipality in candidates
        if (geometry := municipality_geometry(municipality)).intersects(area)
        and not geometry.touches(area)
    ]
