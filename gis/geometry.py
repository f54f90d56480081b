"""GeoJSON area validation, CAP circles, GeoJSON output and geodesic area."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, TypeGuard

import numpy as np
import shapely
from pyproj import Geod
from shapely.geometry import MultiPolygon, Polygon, mapping
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

from gis.errors import GeometryError

# GRS80 is the ellipsoid of JGD2011, the datum of Japanese boundary data; WGS84 differs by < 1 mm.
GEOD = Geod(ellps="GRS80")

MAX_CIRCLE_RADIUS_KM = 1000.0
_AREA_TYPES = ("Polygon", "MultiPolygon")

Ring = list[tuple[float, float]]


def _finite_number(value: object) -> float | None:
    # bool is an int subclass, but `true` in a coordinate array is a client bug, not 1.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # a JSON integer too large for a float
        return None
    return number if math.isfinite(number) else None


def _is_array(value: object) -> TypeGuard[Sequence[object]]:
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)


def _parse_position(value: object, field: str) -> tuple[float, float]:
    if not _is_array(value):
        raise GeometryError(f"a position must be an array [lon, lat], got {value!r}", field)
    if len(value) not in (2, 3):
        raise GeometryError(
            f"a position must have 2 numbers [lon, lat] (or 3 with altitude), got {len(value)}",
            field,
        )
    numbers = [_finite_number(item) for item in value]
    for item, number in zip(value, numbers, strict=True):
        if number is None:
            raise GeometryError(f"a position must hold finite numbers, got {item!r:.40}", field)
    lon, lat = numbers[0], numbers[1]
    assert lon is not None and lat is not None
    lon_ok, lat_ok = -180.0 <= lon <= 180.0, -90.0 <= lat <= 90.0
    if lon_ok and lat_ok:
        return lon, lat
    swapped = -180.0 <= lat <= 180.0 and -90.0 <= lon <= 90.0
    hint = " it looks like [lat, lon];" if swapped else ""
    problem = (
        f"latitude {lat} is outside [-90, 90]"
        if not lat_ok
        else f"longitude {lon} is outside [-180, 180]"
    )
    raise GeometryError(
        f"{problem}:{hint} coordinates must be [lon, lat] in degrees (RFC 7946)", field
    )


def _parse_ring(value: object, field: str) -> Ring:
    if not _is_array(value):
        raise GeometryError(f"a linear ring must be an array of positions, got {value!r}", field)
    ring = [_parse_position(position, f"{field}[{i}]") for i, position in enumerate(value)]
    if len(ring) < 4:
        raise GeometryError(
            f"a linear ring needs at least 4 positions (first repeated last), got {len(ring)}",
            field,
        )
    if ring[0] != ring[-1]:
        raise GeometryError(
            f"linear ring is not closed: first position {list(ring[0])} "
            f"differs from last {list(ring[-1])}",
            field,
        )
    return ring


def _parse_polygon(value: object, field: str) -> Polygon:
    if not _is_array(value):
        raise GeometryError(f"polygon coordinates must be an array of rings, got {value!r}", field)
    if len(value) == 0:
        raise GeometryError("polygon has no rings", field)
    rings = [_parse_ring(ring, f"{field}[{i}]") for i, ring in enumerate(value)]
    return Polygon(rings[0], rings[1:])


def parse_area_structure(obj: object, field: str = "geometry") -> Polygon | MultiPolygon:
    """Check a GeoJSON Polygon/MultiPolygon's structure and ranges; validity is not checked."""
    if not isinstance(obj, Mapping):
        raise GeometryError(f"geometry must be a GeoJSON object, got {type(obj).__name__}", field)
    if "type" not in obj:
        raise GeometryError("geometry has no 'type'", f"{field}.type")
    kind = obj["type"]
    if kind not in _AREA_TYPES:
        raise GeometryError(
            f"geometry type {kind!r} is not supported; an area must be a Polygon or MultiPolygon",
            f"{field}.type",
        )
    if "coordinates" not in obj:
        raise GeometryError("geometry has no 'coordinates'", f"{field}.coordinates")
    coordinates = obj["coordinates"]
    coords_field = f"{field}.coordinates"
    if kind == "Polygon":
        return _parse_polygon(coordinates, coords_field)
    if not _is_array(coordinates):
        raise GeometryError(
            f"MultiPolygon coordinates must be an array of polygons, got {coordinates!r}",
            coords_field,
        )
    if len(coordinates) == 0:
        raise GeometryError("MultiPolygon has no polygons", coords_field)
    return MultiPolygon(
        [_parse_polygon(part, f"{coords_field}[{p}]") for p, part in enumerate(coordinates)]
    )


def parse_area_geometry(obj: object, field: str = "geometry") -> Polygon | MultiPolygon:
    """Validate a GeoJSON Polygon or MultiPolygon (lon/lat) and return it as a shapely geometry."""
    geometry = parse_area_structure(obj, field)
    if geometry.is_empty:
        raise GeometryError("geometry is empty", f"{field}.coordinates")
    if not geometry.is_valid:
        raise GeometryError(f"geometry is not valid: {explain_validity(geometry)}", field)
    return geometry


def _check_range(value: float, low: float, high: float, name: str, unit: str) -> None:
    if not math.isfinite(value) or not low <= value <= high:
        raise GeometryError(f"{name} must be within [{low:g}, {high:g}] {unit}, got {value}", name)


def circle_polygon(lon: float, lat: float, radius_km: float, segments: int = 72) -> Polygon:
    """Return a CAP circle as a polygon whose vertices lie radius_km (geodesic) from the centre."""
    _check_range(lon, -180.0, 180.0, "lon", "degrees")
    _check_range(lat, -90.0, 90.0, "lat", "degrees")
    if not math.isfinite(radius_km) or not 0.0 < radius_km <= MAX_CIRCLE_RADIUS_KM:
        raise GeometryError(
            f"radius_km must be > 0 and <= {MAX_CIRCLE_RADIUS_KM:g}, got {radius_km}",
            "radius_km",
        )
    if segments < 8:
        raise GeometryError(f"a circle needs at least 8 segments, got {segments}", "segments")
    radius_m = radius_km * 1000.0
    # A circle around a pole or across the antimeridian has no plain lon/lat polygon.
    to_pole = GEOD.inv(lon, lat, lon, 90.0 if lat >= 0 else -90.0)[2]
    if to_pole <= radius_m:
        raise GeometryError("a circle containing a pole cannot be represented", "lat")
    # Decreasing azimuths walk the circle counter-clockwise, the RFC 7946 exterior orientation.
    azimuths = np.linspace(360.0, 0.0, segments, endpoint=False)
    lons, lats, _ = GEOD.fwd(
        np.full(segments, lon), np.full(segments, lat), azimuths, np.full(segments, radius_m)
    )
    if float(np.max(lons) - np.min(lons)) > 180.0:
        raise GeometryError("a circle crossing the antimeridian (±180°) is not supported", "lon")
    ring = np.column_stack([lons, lats])
    return Polygon(np.vstack([ring, ring[:1]]))


def _listify(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_listify(item) for item in value]
    if isinstance(value, dict):
        return {key: _listify(item) for key, item in value.items()}
    return value


def to_geojson(geom: BaseGeometry) -> dict[str, Any]:
    """Return a GeoJSON geometry dict of plain lists; polygon rings follow the RFC 7946 winding."""
    if geom.geom_type in _AREA_TYPES:
        # RFC 7946 §3.1.6: exteriors counter-clockwise, holes clockwise.
        geom = shapely.orient_polygons(geom)
    result: dict[str, Any] = _listify(mapping(geom))
    return result


def geodesic_area_m2(geom: BaseGeometry) -> float:
    """Return the geodesic area of a lon/lat geometry in square metres (GRS80)."""
    if geom.is_empty:
        return 0.0
    # pyproj adds each hole's signed area to its shell's: a hole wound like its shell would
    # be added instead of subtracted, so fix the winding first.
    oriented = shapely.orient_polygons(geom)
    area, _perimeter = GEOD.geometry_area_perimeter(oriented)
    return abs(float(area))
