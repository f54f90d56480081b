"""Tables of mutual aid (共助): neighbours' requests for help, volunteers, and rate counters."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from kizuna.db import Base, new_id, utcnow

KINDS = (
    "shopping",
    "medicine",
    "transport",
    "evacuation_support",
    "water",
    "supplies",
    "cleanup",
    "check_on_person",
    "other",
)
SKILLS = (
    "driving",
    "wheelchair",  # helping a wheelchair user in and out of a car, up stairs
    "lifting",  # carrying water, supplies, people's belongings up stairs
    "nursing",
    "first_aid",
    "mud_removal",  # 泥かき
    "childcare",
    "pet_care",
    "sign_language",
    "foreign_language",
)
VEHICLES = ("none", "bicycle", "motorbike", "car", "van", "wheelchair_van", "truck")
# open → claimed → in_progress → completed; open/claimed/in_progress → cancelled; any → closed
# (closed by the retention purge).
STATES = ("open", "claimed", "in_progress", "completed", "cancelled", "closed")
ACTIVE_STATES = ("claimed", "in_progress")


class AidRequest(Base):
    """A request for help; `lon`/`lat`/`contact`/`description` are personal and purged later."""

    __tablename__ = "aid_requests"
    __table_args__ = (
        Index("ix_aid_requests_state_grid", "state", "grid_lon", "grid_lat"),
        Index("ix_aid_requests_state_claimed_at", "state", "claimed_at"),
        CheckConstraint("people >= 1", name="people_positive"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(30))
    description: Mapped[str | None] = mapped_column(String(2000))
    # The exact place (only the requester, the claimer and municipal staff see it) ...
    lon: Mapped[float | None]
    lat: Mapped[float | None]
    # ... and the centre of its ~500 m grid cell, which everyone else sees. A fixed cell rather
    # than random noise: repeated reads cannot be averaged back to the house.
    grid_lon: Mapped[float]
    grid_lat: Mapped[float]
    municipality_code: Mapped[str | None] = mapped_column(String(6), index=True)
    people: Mapped[int] = mapped_column(default=1)
    special_care: Mapped[bool] = mapped_column(default=False)  # 要配慮者
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    needed_by: Mapped[datetime | None]
    contact: Mapped[str | None] = mapped_column(String(300))
    # Who asked: a resident's subscription, or a staff member acting on someone's behalf.
    subscription_id: Mapped[str | None] = mapped_column(String(36), index=True)
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    state: Mapped[str] = mapped_column(String(20), default="open")
    hidden: Mapped[bool] = mapped_column(default=False)
    volunteer_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), index=True)
    claimed_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    purged_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Volunteer(Base):
    """A volunteer's profile: what they can do, where, when, and how many tasks at once."""

    __tablename__ = "aid_volunteers"
    __table_args__ = (
        # The database itself refuses a negative or over-full task count, whatever the code path.
        CheckConstraint("active >= 0", name="active_not_negative"),
        CheckConstraint("max_active >= 1", name="max_active_positive"),
    )

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True)
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    vehicle: Mapped[str] = mapped_column(String(20), default="none")
    lon: Mapped[float]
    lat: Mapped[float]
    radius_m: Mapped[float]
    # [{"start": iso, "end": iso}, ...]; empty means always available.
    availability: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    max_active: Mapped[int] = mapped_column(default=1)
    active: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
