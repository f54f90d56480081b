"""Tables of the dispatch capability: the responder roster, incidents, dispatches and offers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kizuna.db import Base, new_id, utcnow

KINDS = ("fire_corps", "staff")  # 消防団員 / 職員
# The fixed vocabulary of skills and certificates; anything else is refused (422).
SKILLS = (
    "pump_operator",  # 機関員 (ポンプ操作)
    "first_aid",
    "chainsaw",
    "heavy_machinery",
    "boat",
    "rope_rescue",
    "radio",
    "large_vehicle",
    "drone",
    "nursing",
)
AVAILABILITY = ("available", "busy", "off")
INCIDENT_KINDS = (
    "fire",
    "flood_watch",
    "levee_patrol",
    "search",
    "evacuation_support",
    "shelter_support",
    "other",
)
DISPATCH_STATES = ("open", "filled", "cancelled")
OFFER_STATES = ("offered", "accepted", "declined", "expired", "withdrawn")
STATUSES = ("en_route", "on_scene", "cleared")


class ResponderProfile(Base):
    """A responder's roster entry; one per user with the role `responder`."""

    __tablename__ = "responder_profiles"
    __table_args__ = (Index("ix_responder_profiles_lon_lat", "lon", "lat"),)

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(20))
    unit: Mapped[str | None] = mapped_column(String(100))  # 分団/部, or a department
    municipality_code: Mapped[str] = mapped_column(String(6), index=True)
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    phone: Mapped[str | None] = mapped_column(String(50))
    availability: Mapped[str] = mapped_column(String(10), default="available")
    # When the stated availability lapses (busy until 15:00, available until 18:00).
    availability_until: Mapped[datetime | None]
    lon: Mapped[float | None]
    lat: Mapped[float | None]
    located_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Incident(Base):
    __tablename__ = "incidents"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    municipality_code: Mapped[str] = mapped_column(String(6), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    description: Mapped[str] = mapped_column(String(2000))
    lon: Mapped[float]
    lat: Mapped[float]
    created_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Dispatch(Base):
    """A call for `needed` people; `filled` only ever moves by one conditional UPDATE."""

    __tablename__ = "dispatches"
    __table_args__ = (
        # Even a buggy code path cannot overfill: the database refuses it.
        CheckConstraint("filled >= 0 AND filled <= needed", name="filled_within_needed"),
        Index("ix_dispatches_state_next_escalation_at", "state", "next_escalation_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    incident_id: Mapped[str] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    needed: Mapped[int]
    filled: Mapped[int] = mapped_column(default=0)
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    # fire_corps or staff only (a shelter staff call-up); None offers to both.
    responder_kind: Mapped[str | None] = mapped_column(String(20), default=None)
    radius_m: Mapped[float]
    respond_within_s: Mapped[int]
    escalate_after_s: Mapped[int]
    round: Mapped[int] = mapped_column(default=1)
    state: Mapped[str] = mapped_column(String(10), default="open")
    # When the escalation timer next looks at this dispatch; None once it has given up.
    next_escalation_at: Mapped[datetime | None]
    officer_alerted: Mapped[bool] = mapped_column(default=False)
    created_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Offer(Base):
    """One responder asked to fill a slot of one dispatch, and what became of it."""

    __tablename__ = "dispatch_offers"
    __table_args__ = (
        UniqueConstraint("dispatch_id", "responder_id"),
        Index("ix_dispatch_offers_state_expires_at", "state", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    dispatch_id: Mapped[str] = mapped_column(ForeignKey("dispatches.id", ondelete="CASCADE"))
    responder_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    round: Mapped[int]
    distance_m: Mapped[float]
    state: Mapped[str] = mapped_column(String(10), default="offered")
    offered_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    responded_at: Mapped[datetime | None]
    eta_min: Mapped[int | None]
    status: Mapped[str | None] = mapped_column(String(10))
    status_at: Mapped[datetime | None]


class TimelineEntry(Base):
    """What happened to an incident, in order, for the incident board."""

    __tablename__ = "incident_timeline"
    __table_args__ = (Index("ix_incident_timeline_incident_at", "incident_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    dispatch_id: Mapped[str | None] = mapped_column(String(36))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str | None] = mapped_column(String(100))
    event: Mapped[str] = mapped_column(String(40))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
