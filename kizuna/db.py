"""Database engine, sessions and the declarative base shared by every domain's models."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import DateTime, MetaData, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware datetimes stored as UTC; SQLite forgets the zone, so we put it back."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


def new_id() -> str:
    """A new random identifier (UUID4 text)."""
    return str(uuid.uuid4())


# Connections per process: pool size plus overflow. SQLite connections are cheap files; a
# PostgreSQL server's max_connections (100 by default) is shared by every process.
SQLITE_POOL = (20, 10)
POSTGRES_POOL = (10, 20)


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite gets WAL, foreign keys and a busy timeout for concurrency."""
    if url.startswith("sqlite"):
        pool_size, max_overflow = SQLITE_POOL
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=pool_size,
            max_overflow=max_overflow,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # Python's sqlite3 begins a transaction just before its first INSERT/UPDATE/DELETE
            # (reads before it run on their own), so a transaction takes the write lock with its
            # first write and never upgrades a stale read snapshot; other writers wait for it up
            # to busy_timeout. Whoever holds it must commit without waiting on a shared resource
            # the waiters hold (kizuna/app.py gives sync routes enough worker threads).
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    pool_size, max_overflow = POSTGRES_POOL
    return create_engine(url, pool_pre_ping=True, pool_size=pool_size, max_overflow=max_overflow)


class Database:
    """The engine and its session factory; one per app or worker process."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        pool_size, max_overflow = SQLITE_POOL if url.startswith("sqlite") else POSTGRES_POOL
        self.connection_limit = pool_size + max_overflow
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.after_outbox_commit: list[Callable[[set[str]], None]] = []
        event.listen(self.sessions, "after_commit", self._after_commit)

    def _after_commit(self, session: Session) -> None:
        # The outbox relay is woken as soon as a transaction that queued events commits.
        topics = session.info.pop("outbox", None)
        if topics:
            for callback in self.after_outbox_commit:
                callback(topics)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error."""
        session = self.sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()
