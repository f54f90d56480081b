"""Municipality areas and their districts (地区): importing boundaries, looking up geometry."""

from __future__ import annotations

import json
import threading
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import shapely
from shapely.geometry import MultiPolygon, Polygon, shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import select
from sqlalchemy.orm import Session

from gis import (
    GeometryError,
    load_boundaries,
    normalize_municipality_code,
    parse_area_geometry,
    to_geojson,
)
from kizuna import audit
from kizuna.db import utcnow
from kizuna.errors import InvalidInput
from kizuna.models import District, Municipality, User

_cache: dict[tuple[str, datetime], BaseGeometry] = {}
_district_cache: dict[tuple[str, datetime], BaseGeometry] = {}
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


# ---------------------------------------------------------------------------------------------
# Districts (地区, 小学校区): named parts of a municipality an officer can pick as an alert area

MAX_DISTRICTS_PER_IMPORT = 1000
MAX_DISTRICT_NAME = 200
# Old-style GeoJSON may name its CRS; these are all lon/lat degrees (JGD2000/JGD2011/WGS84).
_LON_LAT_CRS = ("CRS84", "4326", "4612", "6668")


@dataclass(frozen=True)
class DistrictImport:
    """The districts an import stored (sorted by name) and how many were new."""

    districts: list[District]
    created: int
    updated: int


def import_districts(
    session: Session,
    municipality_code: str,
    path: str | Path,
    name_property: str = "name",
    actor: User | None = None,
) -> DistrictImport:
    """Insert or replace (by name) a municipality's districts from a GeoJSON file; all or none."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror or exc}", field="file") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"{path} is not UTF-8 GeoJSON: {exc}", field="file") from None
    return store_districts(session, municipality_code, data, name_property, actor)


def store_districts(
    session: Session,
    municipality_code: str,
    collection: object,
    name_property: str = "name",
    actor: User | None = None,
) -> DistrictImport:
    """Validate every feature of a FeatureCollection, then upsert the districts by name.

    Features of one name merge into one district (an island, a detached part). Each district is
    clipped to the municipality's boundary and refused when it does not overlap it. One bad
    feature raises InvalidInput naming `features[i]…` and nothing is written.
    """
    try:
        code = normalize_municipality_code(municipality_code)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="municipality_code") from None
    municipality = get_municipality(session, code)
    boundary = municipality_geometry(municipality)
    parts: dict[str, list[BaseGeometry]] = {}
    for index, feature in enumerate(_features(collection)):
        name, geometry = _district_feature(feature, index, name_property)
        overlap = _polygonal(geometry.intersection(boundary))
        if overlap is None:
            raise InvalidInput(
                f"feature {index} ({name}) lies outside {municipality.name} ({code}); "
                "a district must overlap its municipality's boundary",
                field=f"features[{index}].geometry",
            )
        parts.setdefault(name, []).append(overlap)
    existing = {
        d.name: d
        for d in session.scalars(select(District).where(District.municipality_code == code))
    }
    stored: list[District] = []
    created = 0
    now = utcnow()
    for name in sorted(parts):
        merged = _polygonal(shapely.union_all(parts[name]))
        assert merged is not None  # a union of polygonal parts keeps their area
        district = existing.get(name)
        if district is None:
            district = District(municipality_code=code, name=name)
            session.add(district)
            created += 1
        min_lon, min_lat, max_lon, max_lat = merged.bounds
        district.geometry = to_geojson(merged)
        district.min_lon, district.min_lat = min_lon, min_lat
        district.max_lon, district.max_lat = max_lon, max_lat
        district.imported_at = now
        stored.append(district)
    audit.record(
        session,
        actor=actor,
        action="districts.import",
        subject=code,
        created=created,
        updated=len(stored) - created,
        names=sorted(parts)[:200],
    )
    session.flush()
    return DistrictImport(districts=stored, created=created, updated=len(stored) - created)


def _features(collection: object) -> Sequence[object]:
    if not isinstance(collection, Mapping) or collection.get("type") != "FeatureCollection":
        kind = collection.get("type") if isinstance(collection, Mapping) else type(collection)
        name = kind.__name__ if isinstance(kind, type) else repr(kind)
        raise InvalidInput(
            f"districts must come as a GeoJSON FeatureCollection, not {name}", field="type"
        )
    crs = collection.get("crs")
    if isinstance(crs, Mapping):
        crs_name = str((crs.get("properties") or {}).get("name", ""))
        if not crs_name.replace("::", ":").endswith(_LON_LAT_CRS):
            raise InvalidInput(
                f"the file declares CRS {crs_name!r}; coordinates must be lon/lat degrees "
                "(EPSG:4326/6668), reproject it first",
                field="crs",
            )
    features = collection.get("features")
    if not isinstance(features, list):
        raise InvalidInput("a FeatureCollection needs a 'features' array", field="features")
    if not features:
        raise InvalidInput("the FeatureCollection has no features", field="features")
    if len(features) > MAX_DISTRICTS_PER_IMPORT:
        raise InvalidInput(
            f"{len(features)} features; at most {MAX_DISTRICTS_PER_IMPORT} per import",
            field="features",
        )
    return features


def _district_feature(
    feature: object, index: int, name_property: str
) -> tuple[str, Polygon | MultiPolygon]:
    """One feature's district name and valid (Multi)Polygon, or InvalidInput naming it."""
    where = f"features[{index}]"
    if not isinstance(feature, Mapping) or feature.get("type") != "Feature":
        raise InvalidInput(f"feature {index} is not a GeoJSON Feature", field=where)
    properties = feature.get("properties")
    raw_name = properties.get(name_property) if isinstance(properties, Mapping) else None
    name_field = f"{where}.properties.{name_property}"
    if not isinstance(raw_name, str) or not raw_name.strip():
        raise InvalidInput(
            f"feature {index} has no district name in the property {name_property!r}",
            field=name_field,
        )
    name = raw_name.strip()
    if len(name) > MAX_DISTRICT_NAME:
        raise InvalidInput(
            f"feature {index}: a district name has at most {MAX_DISTRICT_NAME} characters",
            field=name_field,
        )
    try:
        geometry = parse_area_geometry(feature.get("geometry"), f"{where}.geometry")
    except GeometryError as exc:
        raise InvalidInput(
            f"feature {index} ({name}): {exc.message}", field=exc.field or f"{where}.geometry"
        ) from None
    return name, geometry


def _polygonal(geometry: BaseGeometry) -> Polygon | MultiPolygon | None:
    """The polygonal parts of a geometry (an intersection may add stray lines and points)."""
    parts = [
        part
        for part in shapely.get_parts(geometry)
        if isinstance(part, Polygon | MultiPolygon) and not part.is_empty and part.area > 0
    ]
    if not parts:
        return None
    merged = shapely.union_all(parts)
    return merged if isinstance(merged, Polygon | MultiPolygon) else None


def districts_of(session: Session, municipality_code: str) -> list[District]:
    """A municipality's districts sorted by name."""
    districts = session.scalars(
        select(District).where(District.municipality_code == municipality_code)
    )
    return sorted(districts, key=lambda district: district.name)


def district_geometry(district: District) -> BaseGeometry:
    """The shapely area of a district, parsed once per import and prepared."""
    key = (district.id, district.imported_at)
    with _cache_lock:
        geometry = _district_cache.get(key)
    if geometry is None:
        geometry = shape(district.geometry)
        shapely.prepare(geometry)
        with _cache_lock:
            _district_cache[key] = geometry
    return geometry


def get_districts(
    session: Session,
    ids: Sequence[str],
    municipality_codes: Collection[str] | None = None,
    field: str = "district_ids",
) -> list[District]:
    """The districts with `ids` (duplicates once, in order); InvalidInput naming `field[i]` for
    an unknown id or one outside `municipality_codes` (None: any municipality)."""
    found: list[District] = []
    for index, district_id in enumerate(ids):
        district = session.get(District, district_id)
        if district is None:
            raise InvalidInput(f"unknown district {district_id}", field=f"{field}[{index}]")
        if municipality_codes is not None and district.municipality_code not in municipality_codes:
            raise InvalidInput(
                f"district {district.name} belongs to municipality {district.municipality_code}, "
                f"not {', '.join(sorted(municipality_codes)) or 'one you act for'}",
                field=f"{field}[{index}]",
            )
        if district not in found:
            found.append(district)
    return found


def union_of_districts(
    session: Session,
    ids: Sequence[str],
    municipality_codes: Collection[str] | None = None,
    field: str = "district_ids",
) -> BaseGeometry:
    """The merged area of several districts (empty geometry when none), checked as
    `get_districts` does."""
    geometries = [
        district_geometry(d) for d in get_districts(session, ids, municipality_codes, field)
    ]
    if not geometries:
        return shapely.Polygon()
    return shapely.union_all(geometries)


def describe_area(
    session: Session, municipality_codes: Sequence[str], district_ids: Sequence[str]
) -> str:
    """What an area names, for CAP <areaDesc>: municipality names, then each municipality's
    districts ("絆市, 隣町 本町地区、川端地区"); empty when it names nothing."""
    named = [
        municipality.name
        for code in municipality_codes
        if (municipality := session.get(Municipality, code)) is not None
    ]
    by_municipality: dict[str, list[str]] = {}
    for district_id in dict.fromkeys(district_ids):
        district = session.get(District, district_id)
        if district is not None:
            by_municipality.setdefault(district.municipality_code, []).append(district.name)
    for code, names in by_municipality.items():
        municipality = session.get(Municipality, code)
        named.append(f"{municipality.name if municipality else code} {'、'.join(names)}")
    return ", ".join(named)
