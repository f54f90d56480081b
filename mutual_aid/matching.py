"""Who should help whom: feasibility, priorities, the optimal batch assignment and a greedy
baseline. Pure functions over plain data, so the benchmark and tests need no database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from pyproj import Geod
from scipy.optimize import linear_sum_assignment

GEOD = Geod(ellps="GRS80")
# Priority tiers of a request: special care outweighs any urgency; urgency outweighs distance.
SPECIAL_CARE_WEIGHT = 100.0
URGENCY_WEIGHT = 10.0  # times the urgency tier (0–3)


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Need:
    """An open request as the matcher sees it (exact place, server side only)."""

    id: str
    lon: float
    lat: float
    skills: frozenset[str]
    special_care: bool = False
    needed_by: datetime | None = None


@dataclass(frozen=True)
class Helper:
    """A volunteer with `free` task slots left."""

    id: str
    lon: float
    lat: float
    radius_m: float
    skills: frozenset[str]
    free: int = 1
    windows: tuple[Window, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Proposal:
    request_id: str
    volunteer_id: str
    distance_m: float


def urgency_tier(needed_by: datetime | None, now: datetime) -> int:
    """3 within 3 hours, 2 within 12, 1 within 48, 0 later or unstated."""
    if needed_by is None:
        return 0
    hours = (needed_by - now).total_seconds() / 3600
    if hours <= 3:
        return 3
    if hours <= 12:
        return 2
    if hours <= 48:
        return 1
    return 0


def priority(need: Need, now: datetime) -> float:
    return SPECIAL_CARE_WEIGHT * need.special_care + URGENCY_WEIGHT * urgency_tier(
        need.needed_by, now
    )


def available(windows: tuple[Window, ...], needed_by: datetime | None, now: datetime) -> bool:
    """No windows means always; otherwise some window must be open between now and the deadline."""
    if not windows:
        return True
    return any(w.end > now and (needed_by is None or w.start <= needed_by) for w in windows)


def distances(needs: list[Need], helpers: list[Helper]) -> np.ndarray:
    """Geodesic metres, shape (len(needs), len(helpers)), in one vectorised pyproj call."""
    if not needs or not helpers:
        return np.zeros((len(needs), len(helpers)))
    n_lon = np.repeat([n.lon for n in needs], len(helpers))
    n_lat = np.repeat([n.lat for n in needs], len(helpers))
    h_lon = np.tile([h.lon for h in helpers], len(needs))
    h_lat = np.tile([h.lat for h in helpers], len(needs))
    _, _, metres = GEOD.inv(h_lon, h_lat, n_lon, n_lat)
    return np.asarray(metres, dtype=float).reshape(len(needs), len(helpers))


def feasibility(
    needs: list[Need], helpers: list[Helper], now: datetime
) -> tuple[np.ndarray, np.ndarray]:
    """(feasible mask, distance matrix): skills ⊆ the helper's, within their radius, available."""
    dist = distances(needs, helpers)
    ok = np.zeros(dist.shape, dtype=bool)
    radii = np.array([h.radius_m for h in helpers])
    for i, need in enumerate(needs):
        row = dist[i] <= radii
        for j in np.flatnonzero(row):
            helper = helpers[j]
            row[j] = need.skills <= helper.skills and available(helper.windows, need.needed_by, now)
        ok[i] = row
    return ok, dist


def optimal_assignment(needs: list[Need], helpers: list[Helper], now: datetime) -> list[Proposal]:
    """Serve as many requests as possible, special-care and urgent ones first, then travel least.

    One linear assignment (Hungarian / Jonker–Volgenant) over requests × task slots, each helper
    appearing once per free slot. A feasible pair costs −(BIG + priority) + distance term; an
    infeasible pair costs 0 and is dropped afterwards. BIG exceeds the sum of every priority, and
    the whole distance term of an assignment stays below one priority step, so the optimum is
    lexicographic: count, then priority, then total distance.
    """
    helpers = [h for h in helpers if h.free > 0]
    if not needs or not helpers:
        return []
    ok, dist = feasibility(needs, helpers, now)
    rows = np.flatnonzero(ok.any(axis=1))
    cols = np.flatnonzero(ok.any(axis=0))
    if rows.size == 0:
        return []
    ok, dist = ok[np.ix_(rows, cols)], dist[np.ix_(rows, cols)]
    prio = np.array([priority(needs[i], now) for i in rows])
    slots = np.concatenate(
        [np.full(min(helpers[j].free, rows.size), k) for k, j in enumerate(cols)]
    )
    max_pairs = min(rows.size, slots.size)
    max_feasible = float(dist[ok].max()) if ok.any() else 1.0
    # Below one priority step (URGENCY_WEIGHT) in total, whatever the assignment.
    distance_scale = URGENCY_WEIGHT / ((max_feasible + 1.0) * (max_pairs + 1))
    big = float(prio.sum()) + URGENCY_WEIGHT + 1.0
    per_pair = -(big + prio[:, None]) + dist * distance_scale
    cost = np.where(ok, per_pair, 0.0)[:, slots]
    row_ind, col_ind = linear_sum_assignment(cost)
    proposals = []
    for r, c in zip(row_ind, col_ind, strict=True):
        k = slots[c]
        if ok[r, k]:
            proposals.append(
                Proposal(needs[rows[r]].id, helpers[cols[k]].id, round(float(dist[r, k]), 1))
            )
    return proposals


def greedy_assignment(needs: list[Need], helpers: list[Helper], now: datetime) -> list[Proposal]:
    """The baseline: most pressing request first, each to the nearest helper with a free slot."""
    if not needs or not helpers:
        return []
    ok, dist = feasibility(needs, helpers, now)
    free = np.array([h.free for h in helpers])
    order = sorted(range(len(needs)), key=lambda i: -priority(needs[i], now))
    proposals = []
    for i in order:
        candidates = np.flatnonzero(ok[i] & (free > 0))
        if candidates.size == 0:
            continue
        j = int(candidates[np.argmin(dist[i, candidates])])
        free[j] -= 1
        proposals.append(Proposal(needs[i].id, helpers[j].id, round(float(dist[i, j]), 1)))
    return proposals
