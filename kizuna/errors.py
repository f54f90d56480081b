"""Domain errors and the one error shape every API answer uses."""

from __future__ import annotations

from typing import Any


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


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    """`{"error": {"code", "message", "field"}}` — the one shape of every error."""
    return {"error": {"code": code, "message": message, "field": field}}
