"""Municipality boundaries from a GeoJSON FeatureCollection (e.g. 国土数値情報 N03)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from gis.codes import normalize_municipality_code
from gis.errors import GeometryError
from gis.geometry import parse_area_structure

# Old-style GeoJSON may name its CRS; these are all lon/lat degrees (JGD2000/JGD2011/WGS84).
_LON_LAT_CRS = ("CRS84", "4326", "4612", "6668")


@dataclass(frozen=True)
class MunicipalityArea:
    """One municipality: 6-digit code, name and merged (Multi)Polygon in lon/lat."""

    code: str
    name: str
    geometry: BaseGeometry


@dataclass(frozen=True)
class BoundaryImport:
    """The areas imported from a boundary file and why any features were skipped."""

    areas: list[MunicipalityArea]
    skipped: list[str] = field(default_factory=list)


def _polygonal(geometry: BaseGeometry) -> Polygon | MultiPolygon | None:
    """Repair a geometry and keep its polygonal parts; None when nothing polygonal remains."""
    if not geometry.is_valid:
        geometry = shapely.make_valid(geometry)
    parts = [
        part
        for part in shapely.get_parts(geometry)
        if isinstance(part, Polygon | MultiPolygon) and not part.is_empty
    ]
    if not parts:
        return None
    merged = shapely.union_all(parts)
    if isinstance(merged, Polygon | MultiPolygon):
        return merged
    return None


def _read_collection(path: Path) -> list[Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise GeometryError(f"cannot read boundary file {path}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GeometryError(f"boundary file {path} is not UTF-8 GeoJSON: {exc}") from None
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        kind = data.get("type") if isinstance(data, dict) else type(data).__name__
        raise GeometryError(
            f"boundary file {path} must be a GeoJSON FeatureCollection, not {kind!r}"
        )
    crs = data.get("crs")
    if isinstance(crs, dict):
        name = str((crs.get("properties") or {}).get("name", ""))
        if not name.replace("::", ":").endswith(_LON_LAT_CRS):
            raise GeometryError(
                f"boundary file {path} declares CRS {name!r}; coordinates must be lon/lat "
                "degrees (EPSG:4326/6668), reproject the file first"
            )
    features = data.get("features")
    if not isinstance(features, list):
        raise GeometryError(f"boundary file {path} has no 'features' array")
    if not features:
        raise GeometryError(f"boundary file {path} contains no features")
    return features


def load_boundaries(path: str | Path, code_property: str, name_property: str) -> BoundaryImport:
    """Read municipality areas from a GeoJSON FeatureCollection, merging features per code."""
    path = Path(path)
    features = _read_collection(path)
    parts: dict[str, list[BaseGeometry]] = {}
    names: dict[str, str] = {}
    skipped: list[str] = []
    code_seen = False
    for index, feature in enumerate(features):
        if not isinstance(feature, Mapping) or feature.get("type") != "Feature":
            skipped.append(f"feature {index}: not a GeoJSON Feature")
            continue
        properties = feature.get("properties")
        if not isinstance(properties, Mapping):
            properties = {}
        if code_property in properties:
            code_seen = True
        raw_code = properties.get(code_property)
        if raw_code is None or (isinstance(raw_code, str) and not raw_code.strip()):
            # N03 leaves the code empty for land whose municipality is undecided (所属未定地).
            skipped.append(f"feature {index}: {code_property} is empty")
            continue
        try:
            code = normalize_municipality_code(raw_code)
        except ValueError as exc:
            skipped.append(f"feature {index}: {code_property}: {exc}")
            continue
        try:
            shape = parse_area_structure(feature.get("geometry"), f"features[{index}].geometry")
        except GeometryError as exc:
            skipped.append(f"feature {index} ({code}): {exc}")
            continue
        polygonal = _polygonal(shape)
        if polygonal is None:
            skipped.append(f"feature {index} ({code}): geometry has no area after repair")
            continue
        parts.setdefault(code, []).append(polygonal)
        name = properties.get(name_property)
        if code not in names and isinstance(name, str) and name.strip():
            names[code] = name.strip()
    if not code_seen:
        raise GeometryError(
            f"no feature in {path} has the code property {code_property!r}; "
            "check the property names (N03: N03_007 code, N03_004 name)"
        )
    areas: list[MunicipalityArea] = []
    for code in sorted(parts):
        merged = _polygonal(shapely.union_all(parts[code]))
        if merged is None:
            skipped.append(f"code {code}: merged geometry has no area")
            continue
        areas.append(MunicipalityArea(code=code, name=names.get(code, code), geometry=merged))
    if not areas:
        first = f"; first reason: {skipped[0]}" if skipped else ""
        raise GeometryError(f"no municipality area could be imported from {path}{first}")
    return BoundaryImport(areas=areas, skipped=skipped)
