"""Small HTTP helpers shared by the outbound integrations (Web Push, webhooks)."""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime

from kizuna.db import utcnow


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds a Retry-After header asks for (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # RFC 9110 dates are GMT
    return max(0.0, (moment - (now or utcnow())).total_seconds())
