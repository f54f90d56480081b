"""Webhook signatures: HMAC-SHA256 over "<timestamp>." + body, checked within a replay window.

Receivers (media integrators) may copy `verify_signature` as it is: it needs only the standard
library.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_PREFIX = "sha256="
DEFAULT_TOLERANCE_S = 300


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The hex HMAC-SHA256 of `f"{timestamp}.".encode() + body` under `secret`."""
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    """The value of X-Kizuna-Signature for one delivery attempt: `sha256=<hex>`."""
    return SIGNATURE_PREFIX + sign(secret, timestamp, body)


def verify_signature(
    secret: str,
    timestamp: str | int,
    body: bytes,
    header: str,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> bool:
    """Whether a delivery is really from Kizuna and fresh.

    `timestamp` is the X-Kizuna-Timestamp header (unix seconds), `body` the raw request body
    exactly as received (before any JSON or XML parsing), `header` the X-Kizuna-Signature
    header. False when the signature does not match, or the timestamp is more than
    `tolerance_s` seconds away from `now` (default: the current time), so a captured request
    cannot be replayed later. Within the window, drop repeats by X-Kizuna-Delivery.
    Never raises on malformed input.
    """
    try:
        sent = int(str(timestamp).strip())
    except ValueError:
        return False
    current = time.time() if now is None else now
    if abs(current - sent) > tolerance_s:
        return False
    expected = SIGNATURE_PREFIX + sign(secret, sent, body)
    # Constant-time comparison: timing must not reveal how much of a forgery matched.
    return hmac.compare_digest(expected.encode(), header.strip().encode())
