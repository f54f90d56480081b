"""Domain errors and the one error shape every API answer uses."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class KizunaError(Exception):
    """Base of every domain error; carries an HTTP status, a code and the offending field."""

    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code:
            self.code = code

    def to_body(self) -> dict[str, Any]:
        """The error in the API's single shape."""
        return error_body(self.code, self.message, self.field)


class InvalidInput(KizunaError):
    status_code = 422
    code = "invalid_input"


class NotFound(KizunaError):
    status_code = 404
    code = "not_found"


class Conflict(KizunaError):
    status_code = 409
    code = "conflict"


class NotAuthenticated(KizunaError):
    status_code = 401
    code = "not_authenticated"


class Forbidden(KizunaError):
    status_code = 403
    code = "forbidden"


class RateLimited(KizunaError):
    """Too many requests; the answer carries `Retry-After: retry_after_s`."""

    status_code = 429
    code = "rate_limited"

    def __init__(
        self,
        message: str,
        retry_after_s: int,
        field: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message, field=field, code=code)
        self.retry_after_s = retry_after_s


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    """`{"error": {"code", "message", "field"}}` — the one shape of every error."""
    return {"error": {"code": code, "message": message, "field": field}}


class ErrorDetail(BaseModel):
    """What went wrong: a stable code, a message for people and the offending field, if one."""

    code: str
    message: str
    field: str | None = None


class ErrorResponse(BaseModel):
    """The one error shape, declared in OpenAPI for every route."""

    error: ErrorDetail


# Declared on every route (FastAPI(responses=...)), so a client or a fuzzer can rely on them;
# 422 replaces FastAPI's own validation shape, which this API never sends.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": description}
    for status, description in {
        400: "Bad request",
        401: "Not authenticated",
        403: "Forbidden",
        404: "Not found",
        409: "Conflict",
        412: "Precondition failed (If-Match)",
        413: "Request body too large",
        415: "Unsupported media type",
        422: "Invalid input",
        429: "Rate limited",
        503: "Database busy or unreachable",
    }.items()
}
