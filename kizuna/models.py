"""Tables the shell owns: users, municipality areas and the transactional outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kizuna.db import Base, new_id, utcnow

ROLES = ("admin", "officer", "shelter_manager", "responder", "volunteer", "media")


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(32))
    # 全国地方公共団体コード (6 digits with check digit) the user acts for.
    municipality_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    password_changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class Municipality(Base):
    __tablename__ = "municipalities"

    code: Mapped[str] = mapped_column(String(6), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # GeoJSON (WGS84) of the merged boundary; the bbox columns let SQL prefilter cheaply.
    geometry: Mapped[dict[str, Any]] = mapped_column(JSON)
    min_lon: Mapped[float]
    min_lat: Mapped[float]
    max_lon: Mapped[float]
    max_lat: Mapped[float]
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutboxEvent(Base):
    """An event written in the same transaction as the change it announces."""

    __tablename__ = "outbox_events"
    __table_args__ = (Index("ix_outbox_events_unpublished", "published_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    topic: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(default=None)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)


class AuditEntry(Base):
    """Who did what, when; written by services beside the change itself."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), default=None)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str | None] = mapped_column(String(100), default=None)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    # Where the action came from (client address, request id) when it came over HTTP.
    remote_addr: Mapped[str | None] = mapped_column(String(64), default=None)
    request_id: Mapped[str | None] = mapped_column(String(64), default=None)
    # The hash chain: position, the previous entry's hash and this entry's, so a deleted or
    # altered row breaks every hash after it. Rows written before the chain existed have none.
    seq: Mapped[int | None] = mapped_column(unique=True, default=None)
    prev_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    hash: Mapped[str | None] = mapped_column(String(64), default=None)


class AuditChainHead(Base):
    """The one row holding the chain's latest position and hash; locked by each audit write."""

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(default=0)
    hash: Mapped[str] = mapped_column(String(64))


class RateWindow(Base):
    """Hits on one rate-limited bucket (a route and a caller) in one fixed window, counted in
    the database so the limit holds across API processes."""

    __tablename__ = "rate_windows"

    bucket: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(primary_key=True)
    count: Mapped[int] = mapped_column(default=0)


class District(Base):
    """A named part of a municipality (地区, 小学校区) an officer can pick as an alert area."""

    __tablename__ = "districts"
    __table_args__ = (UniqueConstraint("municipality_code", "name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    municipality_code: Mapped[str] = mapped_column(
        ForeignKey("municipalities.code", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    # GeoJSON (WGS84); the bbox columns let SQL prefilter cheaply, as for municipalities.
    geometry: Mapped[dict[str, Any]] = mapped_column(JSON)
    min_lon: Mapped[float]
    min_lat: Mapped[float]
    max_lon: Mapped[float]
    max_lat: Mapped[float]
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)


class IdempotencyKey(Base):
    """The stored answer to a write a client may repeat (a tap re-sent over a flaky connection)."""

    __tablename__ = "idempotency_keys"

    # `scope` names the operation and its owner (e.g. "shelters.occupancy:<shelter id>").
    scope: Mapped[str] = mapped_column(String(200), primary_key=True)
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    # A hash of the request body: the same key with a different body is refused, not replayed.
    request_hash: Mapped[str] = mapped_column(String(64))
    response_status: Mapped[int]
    response_body: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
