"""Shelters and evacuation sites: registry, live state, history, and who manages which."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kizuna.db import Base, new_id, utcnow

KINDS = ("evacuation_site", "shelter", "welfare_shelter")  # 避難場所 / 避難所 / 福祉避難所
HAZARDS = (
    "flood",
    "landslide",
    "storm_surge",
    "earthquake",
    "tsunami",
    "fire",
    "inland_flood",
    "volcano",
)
STATUSES = ("closed", "open", "full")
WIFI_STATES = ("up", "degraded", "down", "unknown")


class Shelter(Base):
    __tablename__ = "shelters"
    __table_args__ = (
        UniqueConstraint("municipality_code", "source_id"),
        Index("ix_shelters_lon_lat", "lon", "lat"),
        # The database itself refuses an impossible occupancy, whatever the code path.
        CheckConstraint("occupancy >= 0", name="occupancy_not_negative"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    source_id: Mapped[str] = mapped_column(String(100))
    municipality_code: Mapped[str] = mapped_column(String(6), index=True)
    name: Mapped[str] = mapped_column(String(300))
    address: Mapped[str | None] = mapped_column(String(500))
    lon: Mapped[float]
    lat: Mapped[float]
    kind: Mapped[str] = mapped_column(String(20))
    hazards: Mapped[list[str]] = mapped_column(JSON, default=list)
    capacity: Mapped[int | None]
    phone: Mapped[str | None] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(10), default="closed")
    occupancy: Mapped[int] = mapped_column(default=0)
    wifi_status: Mapped[str] = mapped_column(String(10), default="unknown")
    wifi_ssid: Mapped[str | None] = mapped_column(String(64))
    wifi_checked_at: Mapped[datetime | None]
    pets_allowed: Mapped[bool | None]
    accessible: Mapped[bool | None]
    needs: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    notes: Mapped[str | None] = mapped_column(String(2000))
    # Bumped on every change; the ETag of the shelter.
    revision: Mapped[int] = mapped_column(default=1)
    updated_by: Mapped[str | None] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ShelterManager(Base):
    """A shelter manager (避難所運営) may write the shelters assigned to them."""

    __tablename__ = "shelter_managers"
    __table_args__ = (UniqueConstraint("user_id", "shelter_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    shelter_id: Mapped[str] = mapped_column(ForeignKey("shelters.id", ondelete="CASCADE"))


class ShelterHistory(Base):
    """Every change of a shelter's state, and published status snapshots, for charts."""

    __tablename__ = "shelter_history"
    __table_args__ = (Index("ix_shelter_history_shelter_at", "shelter_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    shelter_id: Mapped[str] = mapped_column(ForeignKey("shelters.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(10))
    occupancy: Mapped[int]
    capacity: Mapped[int | None]
    wifi_status: Mapped[str] = mapped_column(String(10))
    source: Mapped[str] = mapped_column(String(20))  # api | import | snapshot
    actor: Mapped[str | None] = mapped_column(String(100))
    change: Mapped[dict[str, Any] | None] = mapped_column(JSON)
