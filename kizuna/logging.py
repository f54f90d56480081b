"""Log lines for people and machines: JSON (one object a line) or text, with the request id.

Every line carries `time` (ISO 8601, UTC), `level`, `logger`, `message`, `request_id` and
`remote_addr` (from `kizuna.context`; null outside a request or task), plus whatever the call
passed as `extra={...}`.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any, Literal

from pythonjsonlogger.json import JsonFormatter

from kizuna.context import current_request

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
# Loggers that would repeat what our access line already says, or chatter at INFO.
QUIET = {"uvicorn.access": logging.WARNING}


class RequestContextFilter(logging.Filter):
    """Stamps each record with the current request's id and client address."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = current_request()
        if not hasattr(record, "request_id"):
            record.request_id = context.request_id
        if not hasattr(record, "remote_addr"):
            record.remote_addr = context.remote_addr
        return True


class KizunaJsonFormatter(JsonFormatter):
    """python-json-logger with our field names and UTC ISO timestamps."""

    def __init__(self) -> None:
        super().__init__(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(remote_addr)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            json_ensure_ascii=False,
        )

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        """The record's time as ISO 8601 in UTC, to the millisecond."""
        moment = datetime.fromtimestamp(record.created, tz=UTC)
        return moment.isoformat(timespec="milliseconds")


class UtcTextFormatter(logging.Formatter):
    """The text format for local development, also in UTC."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        """The record's time as ISO 8601 in UTC, to the millisecond."""
        return datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds")


def make_handler(log_format: Literal["json", "text"], stream: Any = None) -> logging.Handler:
    """A stream handler writing `log_format` lines with the request context filled in."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RequestContextFilter())
    handler.setFormatter(
        KizunaJsonFormatter() if log_format == "json" else UtcTextFormatter(TEXT_FORMAT)
    )
    return handler


def configure_logging(log_format: Literal["json", "text"] = "json", level: str = "INFO") -> None:
    """Send every logger (ours, uvicorn's, Celery's) through one handler on stderr."""
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(make_handler(log_format))
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "celery"):
        # Their own handlers would print a second, unstructured copy of each line.
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    for name, quiet_level in QUIET.items():
        logging.getLogger(name).setLevel(quiet_level)
