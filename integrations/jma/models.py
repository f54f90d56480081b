"""Tables of the JMA integration: warning threads per municipality and the Atom poller's memory."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

import alerts.models  # noqa: F401  (the alerts table our foreign key names)
from kizuna.db import Base, utcnow


class JmaThread(Base):
    """The newest telegram we turned into an alert for one warning stream in one municipality.

    JMA re-issues a prefecture's warnings as a whole; the next telegram for the same stream
    (`VPWW53|松江地方気象台`, `quake|<EventID>`, ...) and municipality updates or cancels the
    alert this row points at, by naming `sender,identifier,sent` in its CAP references.
    """

    __tablename__ = "jma_threads"

    # "<stream>|<event key>|<municipality code>"
    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    # "<stream>|<event key>": what a 取消 (cancellation) telegram names.
    event_key: Mapped[str] = mapped_column(String(250), index=True)
    municipality_code: Mapped[str] = mapped_column(String(6))
    sender: Mapped[str] = mapped_column(String(200))
    identifier: Mapped[str] = mapped_column(String(200))
    sent: Mapped[datetime]
    # False once a 解除 (lifting) or 取消 (cancellation) ended the thread.
    open: Mapped[bool] = mapped_column(default=True)
    alert_id: Mapped[str] = mapped_column(ForeignKey("alerts.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class JmaFeedEntry(Base):
    """An Atom entry the poller has dealt with: each entry is fetched once."""

    __tablename__ = "jma_feed_entries"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    entry_id: Mapped[str] = mapped_column(String(500), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(String(1000))
    # imported | skipped | refused
    outcome: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(Text, default=None)
    seen_at: Mapped[datetime] = mapped_column(default=utcnow)


class JmaFeedState(Base):
    """The validators of a feed's last complete read, for a conditional GET next time."""

    __tablename__ = "jma_feed_state"

    url: Mapped[str] = mapped_column(String(1000), primary_key=True)
    etag: Mapped[str | None] = mapped_column(String(500), default=None)
    last_modified: Mapped[str | None] = mapped_column(String(100), default=None)
    checked_at: Mapped[datetime] = mapped_column(default=utcnow)
