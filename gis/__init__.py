"""Geometry for Kizuna: area validation, municipality boundaries and subscriber targeting."""

from gis.boundaries import BoundaryImport, MunicipalityArea, load_boundaries
from gis.codes import check_digit, normalize_municipality_code
from gis.errors import GeometryError
from gis.geometry import (
    circle_polygon,
    geodesic_area_m2,
    parse_area_geometry,
    parse_area_structure,
    to_geojson,
)
from gis.index import SubscriberIndex, naive_within

__all__ = [
    "BoundaryImport",
    "GeometryError",
    "MunicipalityArea",
    "SubscriberIndex",
    "check_digit",
    "circle_polygon",
    "geodesic_area_m2",
    "load_boundaries",
    "naive_within",
    "normalize_municipality_code",
    "parse_area_geometry",
    "parse_area_structure",
    "to_geojson",
]
