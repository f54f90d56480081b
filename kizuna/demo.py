"""Demo data: one synthetic municipality, a user per role and a few thousand residents."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import Polygon, box
from shapely.geometry.base import BaseGeometry
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from alerts.models import Subscription, SubscriptionPlace
from gis import SubscriberIndex, normalize_municipality_code, to_geojson
from kizuna.areas import store_districts, upsert_municipality
from kizuna.auth import create_user
from kizuna.db import new_id
from kizuna.models import ROLES, User
from kizuna.settings import Settings

# 99999 is outside every real prefecture (01-47): the demo can never be mistaken for a real city.
DEMO_CODE = normalize_municipality_code("99999")
DEMO_NAME = "絆市 (Kizuna City, demo)"
DEMO_CENTRE = (136.9650, 37.0430)  # lon, lat: inland Noto, for a plausible map
DEMO_PASSWORD = "kizuna-demo-pass"
DEMO_LANGUAGES = [
    ["ja"],
    ["ja"],
    ["ja"],
    ["en", "ja"],
    ["zh-Hans", "ja"],
    ["ko", "ja"],
    ["vi", "ja"],
    ["pt", "ja"],
    ["ne", "ja"],
    ["tl", "en"],
]


@dataclass(frozen=True)
class DemoSummary:
    municipality_code: str
    municipality_name: str
    users: list[tuple[str, str]]
    subscribers: int
    password: str


def demo_boundary(vertices: int = 720, seed: int = 7) -> Polygon:
    """An irregular, valid city outline of about 12 km across around the demo centre."""
    rng = np.random.default_rng(seed)
    angles = np.linspace(0, 2 * math.pi, vertices, endpoint=False)
    # Smooth noise: a few low harmonics give a coastline-like wobble without self-intersection.
    radius = np.full(vertices, 6.0)
    for harmonic in range(2, 9):
        radius += rng.uniform(-0.5, 0.5) * np.sin(harmonic * angles + rng.uniform(0, 6.28))
    km_per_deg_lat = 111.0
    km_per_deg_lon = 111.0 * math.cos(math.radians(DEMO_CENTRE[1]))
    lons = DEMO_CENTRE[0] + radius * np.cos(angles) / km_per_deg_lon
    lats = DEMO_CENTRE[1] + radius * np.sin(angles) / km_per_deg_lat
    polygon = Polygon(zip(lons.round(6), lats.round(6), strict=True))
    return polygon if polygon.is_valid else shapely.make_valid(polygon)


def seed_demo(
    session: Session, settings: Settings, subscribers: int = 3000, seed: int = 42
) -> DemoSummary:
    """Create (or top up) the demo city; running it twice adds nothing twice."""
    boundary = demo_boundary()
    upsert_municipality(session, DEMO_CODE, DEMO_NAME, boundary)
    _add_districts(session, boundary)
    users: list[tuple[str, str]] = []
    for role in ROLES:
        username = f"demo-{role.replace('_', '-')}"
        if session.scalar(select(User.id).where(User.username == username)) is None:
            create_user(
                session,
                settings,
                username,
                DEMO_PASSWORD,
                role,
                [DEMO_CODE],
                display_name=f"Demo {role}",
            )
        users.append((username, role))
    # A second officer, so the two-person rule (on in distributed deployments) can be shown.
    if session.scalar(select(User.id).where(User.username == "demo-officer-2")) is None:
        create_user(
            session,
            settings,
            "demo-officer-2",
            DEMO_PASSWORD,
            "officer",
            [DEMO_CODE],
            display_name="Demo officer 2",
        )
    users.append(("demo-officer-2", "officer"))
    _add_shelters(session, boundary)
    _assign_demo_manager(session)
    existing = session.scalar(select(func.count()).select_from(Subscription)) or 0
    missing = max(0, subscribers - existing)
    if missing:
        _add_subscribers(session, boundary, missing, seed + existing)
    session.flush()
    return DemoSummary(DEMO_CODE, DEMO_NAME, users, max(subscribers, existing), DEMO_PASSWORD)


# The demo city's four districts: its bounding box cut into quadrants around the centre.
DEMO_DISTRICTS = [
    ("本町地区", "south-west"),
    ("川端地区", "south-east"),
    ("山手地区", "north-west"),
    ("港地区", "north-east"),
]


def demo_districts(boundary: Polygon) -> dict[str, BaseGeometry]:
    """The four districts, tiling the boundary: each quadrant of its bbox cut to the city."""
    min_lon, min_lat, max_lon, max_lat = boundary.bounds
    lon, lat = DEMO_CENTRE
    boxes = {
        "south-west": box(min_lon, min_lat, lon, lat),
        "south-east": box(lon, min_lat, max_lon, lat),
        "north-west": box(min_lon, lat, lon, max_lat),
        "north-east": box(lon, lat, max_lon, max_lat),
    }
    return {name: boundary.intersection(boxes[quadrant]) for name, quadrant in DEMO_DISTRICTS}


def _add_districts(session: Session, boundary: Polygon) -> None:
    """Store the demo districts (re-running replaces them in place by name)."""
    features = [
        {"type": "Feature", "properties": {"name": name}, "geometry": to_geojson(geometry)}
        for name, geometry in demo_districts(boundary).items()
    ]
    store_districts(session, DEMO_CODE, {"type": "FeatureCollection", "features": features})


def _add_subscribers(session: Session, boundary: Polygon, count: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    min_lon, min_lat, max_lon, max_lat = boundary.bounds
    lons: list[float] = []
    lats: list[float] = []
    while len(lons) < count:
        xs = rng.uniform(min_lon, max_lon, count * 2)
        ys = rng.uniform(min_lat, max_lat, count * 2)
        inside = SubscriberIndex(np.arange(len(xs)), xs, ys).within(boundary)
        lons.extend(xs[inside].round(6).tolist())
        lats.extend(ys[inside].round(6).tolist())
    for index in range(count):
        # The token of a demo subscriber is never shown; these residents exist to be counted.
        session.add(
            Subscription(
                id=new_id(),
                token_hash=new_id().replace("-", "") + new_id().replace("-", "")[:32],
                languages=DEMO_LANGUAGES[index % len(DEMO_LANGUAGES)],
                # A third of the demo city takes part in drills, so an Exercise reaches someone.
                drills=index % 3 == 0,
                places=[
                    SubscriptionPlace(position=0, label="home", lon=lons[index], lat=lats[index])
                ],
            )
        )


DEMO_SHELTERS = [
    ("絆小学校 体育館", "shelter", ["flood", "earthquake", "landslide"], 400),
    ("絆中学校", "shelter", ["flood", "earthquake", "fire"], 600),
    ("中央公民館", "shelter", ["earthquake", "fire"], 150),
    ("福祉センターあおば", "welfare_shelter", ["flood", "earthquake"], 60),
    ("河川敷運動公園", "evacuation_site", ["earthquake", "fire"], 3000),
    ("高台の森公園", "evacuation_site", ["flood", "tsunami", "storm_surge"], 2000),
    ("北地区コミュニティセンター", "shelter", ["flood", "earthquake"], 120),
    ("南地区集会所", "shelter", ["earthquake"], 80),
]


def _add_shelters(session: Session, boundary: Polygon) -> None:
    """A handful of shelters spread over the demo city (re-running updates them in place)."""
    from shelters import upsert_shelters
    from shelters.records import ShelterRecord

    rng = np.random.default_rng(11)
    min_lon, min_lat, max_lon, max_lat = boundary.bounds
    records: list[ShelterRecord] = []
    for index, (name, kind, hazards, capacity) in enumerate(DEMO_SHELTERS):
        while True:
            lon, lat = rng.uniform(min_lon, max_lon), rng.uniform(min_lat, max_lat)
            if len(SubscriberIndex(np.arange(1), [lon], [lat]).within(boundary)):
                break
        records.append(
            ShelterRecord(
                source_id=f"demo-{index + 1}",
                name=name,
                lon=round(float(lon), 6),
                lat=round(float(lat), 6),
                municipality_code=DEMO_CODE,
                kind=kind,
                hazards=hazards,
                capacity=capacity,
                address=f"絆市 {name}",
            )
        )
    upsert_shelters(session, records, "demo")


def _assign_demo_manager(session: Session) -> None:
    """The demo shelter manager runs the first two demo shelters."""
    from shelters.models import Shelter
    from shelters.service import assign_manager

    manager = session.scalar(select(User).where(User.username == "demo-shelter-manager"))
    if manager is None:
        return
    for source_id in ("demo-1", "demo-2"):
        shelter_id = session.scalar(
            select(Shelter.id).where(
                Shelter.municipality_code == DEMO_CODE, Shelter.source_id == source_id
            )
        )
        if shelter_id is not None:
            assign_manager(session, manager, shelter_id)
