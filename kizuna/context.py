"""The request being served, for code far from the router (audit entries, log lines).

The request-id middleware sets it for each HTTP request and WebSocket; workers set it per task.
Outside any request it is empty, and writers record the action as the system's.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestContext:
    """Who is on the other end of the current request, as far as the transport tells us."""

    request_id: str | None = None
    remote_addr: str | None = None


_EMPTY = RequestContext()
_current: ContextVar[RequestContext | None] = ContextVar("kizuna_request", default=None)


def current_request() -> RequestContext:
    """The current request's id and client address (both None outside a request)."""
    return _current.get() or _EMPTY


def set_request(context: RequestContext) -> object:
    """Make `context` current; returns a token for `reset_request`."""
    return _current.set(context)


def reset_request(token: object) -> None:
    """Restore the context that was current before `set_request`."""
    _current.reset(token)  # type: ignore[arg-type]
