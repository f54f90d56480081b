"""An in-memory point index answering "which subscribers lie inside this area"."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry


def _coordinates(values: npt.ArrayLike, name: str) -> npt.NDArray[np.float64]:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    return array


def _prepared(area: BaseGeometry) -> BaseGeometry:
    """Return `area` if the caller prepared it, else a prepared private copy."""
    if shapely.is_prepared(area):
        return area
    # Preparing in place would mutate a geometry other threads may be querying (cached
    # municipality areas); GEOS builds prepared indexes lazily and not thread-safely.
    copy: BaseGeometry = shapely.from_wkb(shapely.to_wkb(area))
    shapely.prepare(copy)
    return copy


class SubscriberIndex:
    """Points (lon/lat) with ids; `within(area)` gives the ids inside an area, boundary included."""

    def __init__(
        self, ids: npt.ArrayLike | Sequence[Any], lons: npt.ArrayLike, lats: npt.ArrayLike
    ) -> None:
        id_array: npt.NDArray[Any] = np.asarray(ids)
        if id_array.ndim != 1:
            raise ValueError(f"ids must be one-dimensional, got shape {id_array.shape}")
        xs = _coordinates(lons, "lons")
        ys = _coordinates(lats, "lats")
        if not len(id_array) == len(xs) == len(ys):
            raise ValueError(
                f"ids, lons and lats differ in length ({len(id_array)}, {len(xs)}, {len(ys)})"
            )
        # Sorted by longitude, an area's bbox becomes one contiguous slice found by binary search,
        # so a small area costs little even in a nationwide index.
        order = np.argsort(xs, kind="stable")
        self._order = order
        self._ids = id_array
        self._xs = xs[order]
        self._ys = ys[order]

    def __len__(self) -> int:
        return len(self._xs)

    def within(self, area: BaseGeometry) -> npt.NDArray[Any]:
        """Return the ids of the points inside `area` or on its boundary, in input order."""
        if area.is_empty or len(self._xs) == 0:
            return self._ids[:0]
        min_x, min_y, max_x, max_y = area.bounds
        start = int(np.searchsorted(self._xs, min_x, side="left"))
        stop = int(np.searchsorted(self._xs, max_x, side="right"))
        ys = self._ys[start:stop]
        candidates = np.flatnonzero((ys >= min_y) & (ys <= max_y)) + start
        # intersects, not contains: a resident exactly on the boundary must be alerted.
        hits = shapely.intersects_xy(_prepared(area), self._xs[candidates], self._ys[candidates])
        positions = np.sort(self._order[candidates[hits]])
        return self._ids.take(positions)


def naive_within(
    area: BaseGeometry,
    ids: npt.ArrayLike | Sequence[Any],
    lons: npt.ArrayLike,
    lats: npt.ArrayLike,
) -> npt.NDArray[Any]:
    """Point-by-point reference for `SubscriberIndex.within`; a benchmark baseline only."""
    id_array: npt.NDArray[Any] = np.asarray(ids)
    xs = np.asarray(lons, dtype=np.float64)
    ys = np.asarray(lats, dtype=np.float64)
    inside = [i for i in range(len(id_array)) if area.intersects(Point(float(xs[i]), float(ys[i])))]
    return id_array[np.asarray(inside, dtype=np.intp)]
