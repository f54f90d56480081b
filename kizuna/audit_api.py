"""`GET /api/v1/audit`: the audit log for admins, newest first, filtered and paged by seq."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy import select

import kizuna.routing
from kizuna.deps import DbSession, require_role
from kizuna.errors import InvalidInput
from kizuna.models import AuditEntry, User

router = kizuna.routing.router(prefix="/api/v1/audit", tags=["audit"])
Admin = Annotated[User, Depends(require_role("admin"))]


class AuditEntryOut(BaseModel):
    seq: int | None
    at: datetime
    actor: str
    actor_id: str | None
    action: str
    subject: str | None
    detail: dict[str, Any] | None
    remote_addr: str | None
    request_id: str | None
    hash: str | None


def _aware(value: datetime | None, field: str) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise InvalidInput(f"{field} needs a timezone, e.g. 2026-11-29T09:00:00+09:00", field=field)
    return value


@router.get("", response_model=list[AuditEntryOut])
def list_audit(
    _admin: Admin,
    session: DbSession,
    actor: Annotated[str | None, Query(max_length=100)] = None,
    action: Annotated[
        str | None, Query(max_length=100, description="prefix, e.g. `alert.`")
    ] = None,
    subject: Annotated[str | None, Query(max_length=100)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_seq: Annotated[
        int | None,
        # le: a bigger number is no seq at all, and SQLite/PostgreSQL would refuse to bind it.
        Query(ge=1, le=2**63 - 1, description="keyset paging: entries with a smaller seq"),
    ] = None,
) -> Any:
    """Audit entries, newest first; page on with `before_seq` = the last entry's seq.

    Entries written before the hash chain existed (no seq) fill the last page, newest first.
    """
    stmt = select(AuditEntry)
    if actor is not None:
        stmt = stmt.where(AuditEntry.actor == actor)
    if action is not None:
        # A prefix match without LIKE wildcards from the caller: `_` and `%` are literal here.
        stmt = stmt.where(AuditEntry.action.startswith(action, autoescape=True))
    if subject is not None:
        stmt = stmt.where(AuditEntry.subject == subject)
    since = _aware(since, "since")
    until = _aware(until, "until")
    if since is not None and until is not None and since > until:
        raise InvalidInput("since is after until", field="since")
    if since is not None:
        stmt = stmt.where(AuditEntry.at >= since)
    if until is not None:
        stmt = stmt.where(AuditEntry.at < until)
    chained = stmt.where(AuditEntry.seq.is_not(None))
    if before_seq is not None:
        chained = chained.where(AuditEntry.seq < before_seq)
    # By seq alone, so the unique index on seq serves the newest-first page.
    entries = list(session.scalars(chained.order_by(AuditEntry.seq.desc()).limit(limit)))
    if len(entries) < limit:
        older = stmt.where(AuditEntry.seq.is_(None)).order_by(AuditEntry.id.desc())
        entries += session.scalars(older.limit(limit - len(entries)))
    return [AuditEntryOut.model_validate(e, from_attributes=True) for e in entries]
