"""Idempotent writes: a client names a request with an `Idempotency-Key`, and a repeat of it gets
the first answer again instead of doing the work twice (a tap re-sent over a flaky connection).

The answer is stored in the same transaction as the change, so a key is recorded exactly when its
change is. Concurrent duplicates race on the primary key (scope, key): the loser's insert fails,
its transaction is rolled back, and it answers with the winner's stored result.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kizuna.db import utcnow
from kizuna.errors import Conflict, InvalidInput
from kizuna.models import IdempotencyKey

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
RETENTION = timedelta(hours=24)
KEY_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,100}")
# Status of a claimed key whose answer is not recorded yet (never committed: see `record`).
_CLAIMED = 0


@dataclass(frozen=True)
class StoredAnswer:
    """The answer given to the first request with a key."""

    status: int
    body: dict[str, Any] | None


def check_key(key: str | None) -> str | None:
    """The key if it is well formed (1-100 of A-Z a-z 0-9 _ -), None if absent; 422 otherwise."""
    if key is None:
        return None
    if not KEY_PATTERN.fullmatch(key):
        raise InvalidInput(
            f"{HEADER} must be 1-100 characters of A-Z, a-z, 0-9, '_' and '-'", field=HEADER
        )
    return key


def request_hash(payload: Any) -> str:
    """A stable SHA-256 of a JSON-able request body, to tell a repeat from a different request."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _replay(stored: IdempotencyKey, digest: str) -> StoredAnswer:
    if stored.request_hash != digest:
        raise InvalidInput(
            f"this {HEADER} was already used for a different request; use a new key",
            field=HEADER,
            code="idempotency_key_reused",
        )
    if stored.response_status == _CLAIMED:
        raise Conflict(
            f"a request with this {HEADER} is still being handled; retry shortly",
            field=HEADER,
            code="idempotency_key_in_progress",
        )
    return StoredAnswer(stored.response_status, stored.response_body)


def claim(session: Session, scope: str, key: str, digest: str) -> StoredAnswer | None:
    """Claim `key` in `scope` for this request: None means do the work, then `record` the answer;
    otherwise the stored answer to give back. Call it before the session writes anything: losing
    a race rolls the session back."""
    stored = session.get(IdempotencyKey, (scope, key))
    if stored is not None:
        return _replay(stored, digest)
    session.add(IdempotencyKey(scope=scope, key=key, request_hash=digest, response_status=_CLAIMED))
    try:
        session.flush()
    except IntegrityError:
        # A concurrent request with the same key inserted first and has committed (PostgreSQL and
        # SQLite both make the second insert wait for the first transaction's outcome).
        session.rollback()
        stored = session.get(IdempotencyKey, (scope, key), populate_existing=True)
        if stored is None:
            raise Conflict(
                f"a request with this {HEADER} is still being handled; retry shortly",
                field=HEADER,
                code="idempotency_key_in_progress",
            ) from None
        return _replay(stored, digest)
    return None


def record(
    session: Session, scope: str, key: str, status: int, body: dict[str, Any] | None
) -> None:
    """Store the answer to a claimed key; it commits with the change it answers for."""
    stored = session.get(IdempotencyKey, (scope, key))
    if stored is None:
        raise RuntimeError(f"key {key!r} in {scope!r} was not claimed")
    stored.response_status = status
    stored.response_body = body
    session.flush()


def purge(
    session: Session,
    scope_prefix: str,
    older_than: timedelta = RETENTION,
    now: datetime | None = None,
) -> int:
    """Forget keys of scopes starting with `scope_prefix` stored before `older_than` ago;
    returns how many."""
    cutoff = (now or utcnow()) - older_than
    result = session.execute(
        delete(IdempotencyKey).where(
            IdempotencyKey.scope.startswith(scope_prefix, autoescape=True),
            IdempotencyKey.created_at < cutoff,
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
