"""The audit log: who did what, when, from where, with before/after — in a hash chain.

Every writer calls `record`. The entry is linked into the chain when its transaction commits
(a `before_commit` hook): the one `audit_chain_head` row is updated first (`UPDATE … RETURNING`,
which takes its row lock on PostgreSQL and the write lock on SQLite before anything is read),
the entry gets `seq = head.seq + 1` and `prev_hash = head.hash`, its own hash is computed, and
the head moves on — all in the writer's transaction, so a rolled-back write leaves no entry and
no gap. Taking the head lock last, at commit, keeps the lock order the same in every
transaction (domain rows first, the head last), so audited writes cannot deadlock on it.

The cost is one row lock per audited transaction, held for the commit: audited writes are
serialized. That is fine for human-scale writes (officers, managers, imports), not for machine
rates; high-volume paths (deliveries, receipts) are not audited entry by entry.

`audit_log` is append-only (database triggers, migration 0014); `verify` detects a row deleted
or altered by someone who got past them.
"""

from __future__ import annotations

import enum
import hashlib
import json
import math
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import event, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, SessionTransaction

from kizuna.context import current_request
from kizuna.db import utcnow
from kizuna.models import AuditChainHead, AuditEntry, User

HEAD_ID = 1
GENESIS_HASH = "0" * 64
SYSTEM = "system"
_PENDING = "kizuna.audit.pending"
# Column widths of audit_log: a longer value is cut, never refused (the write itself matters more).
_WIDTH = 100
_ADDR_WIDTH = 64


def jsonable(value: Any) -> Any:
    """`value` made JSON-safe for an audit detail: datetimes as aware ISO text, UUIDs and
    Decimals as text, enums by value, sets and tuples as lists; anything else unknown as repr."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        # PostgreSQL's JSON refuses NaN and Infinity.
        return value if math.isfinite(value) else str(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    if isinstance(value, enum.Enum):
        return jsonable(value.value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [jsonable(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, set | frozenset) else items
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return repr(value)


def safe_url(url: str) -> str:
    """`url` without credentials, query or fragment: webhook and push URLs often carry tokens."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def changes(
    before: Mapping[str, Any], after: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The fields of `after` whose value differs from `before`: (old values, new values)."""
    old: dict[str, Any] = {}
    new: dict[str, Any] = {}
    for key, value in after.items():
        if jsonable(before.get(key)) != jsonable(value):
            old[key] = before.get(key)
            new[key] = value
    return old, new


def record(
    session: Session,
    *,
    actor: User | str | None,
    action: str,
    subject: str | None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    **detail: Any,
) -> AuditEntry:
    """Record that `actor` (a user, a name like `system:jma`, or None for the system) did
    `action` to `subject`; linked into the chain when `session` commits. No secrets in detail."""
    context = current_request()
    body: dict[str, Any] = dict(detail)
    if before is not None:
        body["before"] = before
    if after is not None:
        body["after"] = after
    if isinstance(actor, User):
        actor_id: str | None = actor.id
        name = actor.username
    else:
        actor_id = None
        name = actor or SYSTEM
    entry = AuditEntry(
        at=utcnow(),
        actor_id=actor_id,
        actor=name[:_WIDTH],
        action=action[:_WIDTH],
        subject=None if subject is None else str(subject)[:_WIDTH],
        detail=jsonable(body) or None,
        remote_addr=(context.remote_addr or None) and context.remote_addr[:_ADDR_WIDTH],
        request_id=(context.request_id or None) and context.request_id[:_ADDR_WIDTH],
    )
    pending: list[tuple[SessionTransaction | None, AuditEntry]]
    pending = session.info.setdefault(_PENDING, [])
    pending.append((session.get_nested_transaction() or session.get_transaction(), entry))
    return entry


def entry_hash(
    *,
    seq: int,
    at: datetime,
    actor_id: str | None,
    actor: str,
    action: str,
    subject: str | None,
    detail: Any,
    remote_addr: str | None,
    request_id: str | None,
    prev_hash: str,
) -> str:
    """sha256 (hex) of the entry's canonical JSON: sorted keys, no whitespace, UTF-8."""
    payload = {
        "seq": seq,
        "at": at.astimezone(UTC).isoformat(),
        "actor_id": actor_id,
        "actor": actor,
        "action": action,
        "subject": subject,
        "detail": detail,
        "remote_addr": remote_addr,
        "request_id": request_id,
        "prev_hash": prev_hash,
    }
    text = json.dumps(
        payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _ensure_head(session: Session) -> None:
    """Create the genesis head (seq 0, 64 zeros) unless it exists; safe when raced."""
    values = {"id": HEAD_ID, "seq": 0, "hash": GENESIS_HASH}
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        stmt: Any = postgresql.insert(AuditChainHead).values(**values).on_conflict_do_nothing()
    elif dialect == "sqlite":
        stmt = sqlite.insert(AuditChainHead).values(**values).on_conflict_do_nothing()
    else:  # pragma: no cover - we run on the two above
        raise RuntimeError(f"audit chain: unsupported database {dialect}")
    session.execute(stmt)


def _advance_head(session: Session) -> tuple[int, str]:
    """Take the head's lock by moving it one step; (the new seq, the previous hash)."""
    stmt = (
        update(AuditChainHead)
        .where(AuditChainHead.id == HEAD_ID)
        .values(seq=AuditChainHead.seq + 1)
        .returning(AuditChainHead.seq, AuditChainHead.hash)
        .execution_options(synchronize_session=False)
    )
    row = session.execute(stmt).one_or_none()
    if row is None:
        _ensure_head(session)
        row = session.execute(stmt).one()
    return int(row[0]), str(row[1])


def _link(session: Session, entry: AuditEntry) -> None:
    seq, prev_hash = _advance_head(session)
    entry.seq = seq
    entry.prev_hash = prev_hash
    entry.hash = entry_hash(
        seq=seq,
        at=entry.at,
        actor_id=entry.actor_id,
        actor=entry.actor,
        action=entry.action,
        subject=entry.subject,
        detail=entry.detail,
        remote_addr=entry.remote_addr,
        request_id=entry.request_id,
        prev_hash=prev_hash,
    )
    session.execute(
        update(AuditChainHead)
        .where(AuditChainHead.id == HEAD_ID)
        .values(hash=entry.hash)
        .execution_options(synchronize_session=False)
    )
    session.add(entry)


@event.listens_for(Session, "before_commit")
def _chain_pending(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    # Domain rows first (their locks), then the head: the same lock order in every transaction.
    session.flush()
    for _transaction, entry in pending:
        _link(session, entry)
    session.flush()


def _within(transaction: SessionTransaction | None, ancestor: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is ancestor:
            return True
        transaction = transaction.parent
    return False


@event.listens_for(Session, "after_transaction_end")
def _forget_at_end(session: Session, transaction: SessionTransaction) -> None:
    # Commit has linked them already; a rollback or close without commit takes them away.
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


@event.listens_for(Session, "after_soft_rollback")
def _drop_rolled_back(session: Session, previous_transaction: SessionTransaction) -> None:
    # A rolled-back savepoint takes the entries recorded inside it.
    pending = session.info.get(_PENDING)
    if pending and previous_transaction.nested:
        kept = [(tx, e) for tx, e in pending if not _within(tx, previous_transaction)]
        if kept:
            session.info[_PENDING] = kept
        else:
            session.info.pop(_PENDING, None)


# --- verification -------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of walking the chain: ok, or the first broken seq and why."""

    ok: bool
    entries: int
    unchained: int
    broken_seq: int | None = None
    reason: str | None = None  # "altered", "deleted" or "head_mismatch"
    message: str = ""


_COLUMNS = (
    AuditEntry.seq,
    AuditEntry.at,
    AuditEntry.actor_id,
    AuditEntry.actor,
    AuditEntry.action,
    AuditEntry.subject,
    AuditEntry.detail,
    AuditEntry.remote_addr,
    AuditEntry.request_id,
    AuditEntry.prev_hash,
    AuditEntry.hash,
)


def _rows_after(session: Session, seq: int) -> Iterator[Any]:
    stmt = (
        select(*_COLUMNS)
        .where(AuditEntry.seq.is_not(None), AuditEntry.seq > seq)
        .order_by(AuditEntry.seq)
        .execution_options(yield_per=1000)
    )
    yield from session.execute(stmt)


def verify(session: Session) -> VerifyResult:
    """Walk the chain by seq: each hash recomputed, each link and seq checked, the end
    compared with the head. Entries written while it runs are followed, not reported."""
    unchained = int(
        session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.seq.is_(None)))
        or 0
    )
    last_seq, last_hash = 0, GENESIS_HASH
    checked = 0

    def broken(seq: int, reason: str, message: str) -> VerifyResult:
        return VerifyResult(False, checked, unchained, seq, reason, message)

    while True:
        for row in _rows_after(session, last_seq):
            expected = last_seq + 1
            if row.seq != expected:
                missing = (
                    f"seq {expected}"
                    if row.seq == expected + 1
                    else f"seq {expected}–{row.seq - 1}"
                )
                return broken(expected, "deleted", f"entry {missing} is missing (deleted)")
            computed = entry_hash(
                seq=row.seq,
                at=row.at,
                actor_id=row.actor_id,
                actor=row.actor,
                action=row.action,
                subject=row.subject,
                detail=row.detail,
                remote_addr=row.remote_addr,
                request_id=row.request_id,
                prev_hash=row.prev_hash or "",
            )
            if computed != row.hash:
                return broken(row.seq, "altered", f"entry seq {row.seq} was altered")
            if row.prev_hash != last_hash:
                # The entry itself is intact, so its predecessor's content and hash were rewritten.
                return broken(
                    last_seq,
                    "altered",
                    f"entry seq {last_seq} was altered (its hash no longer links to seq {row.seq})",
                )
            last_seq, last_hash = row.seq, row.hash
            checked += 1
        head = session.execute(
            select(AuditChainHead.seq, AuditChainHead.hash).where(AuditChainHead.id == HEAD_ID)
        ).one_or_none()
        head_seq, head_hash = (0, GENESIS_HASH) if head is None else (int(head[0]), str(head[1]))
        if head_seq > last_seq:
            # Committed since the walk read them, or the newest entries were deleted: look again.
            more = session.scalar(select(AuditEntry.seq).where(AuditEntry.seq > last_seq).limit(1))
            if more is not None:
                continue
            return broken(
                last_seq + 1,
                "deleted",
                f"entries seq {last_seq + 1}–{head_seq} are missing (the head is at {head_seq})",
            )
        if head_seq < last_seq or head_hash != last_hash:
            return broken(
                last_seq,
                "head_mismatch",
                f"the chain ends at seq {last_seq} but the head says seq {head_seq} "
                "with another hash",
            )
        return VerifyResult(True, checked, unchained, message=f"{checked} entries intact")
