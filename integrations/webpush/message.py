"""What one push message carries: the payload trimmed to fit, and its Urgency, TTL and Topic."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from alerts.models import AlertVersion
from alerts.service import render_message

# RFC 8291 §4: a push message body is at most 4096 bytes. aes128gcm adds a 86-byte header
# (salt 16, record size 4, key id length 1, key id 65), a 16-byte tag and a 1-byte padding
# delimiter, which leaves 3993 bytes of plaintext.
MAX_PLAINTEXT_BYTES = 4096 - 86 - 16 - 1
# Room kept for the per-recipient `"receipt":"<delivery id>.<mac>"` added after fitting.
RECEIPT_RESERVE_BYTES = 64
# Push services keep a message at most about four weeks (RFC 8030 lets them cap TTL).
MAX_TTL_S = 28 * 24 * 3600
# Dropped in this order until the payload fits; the device shows what is left.
DROPPABLE = ("area", "description", "references")
# Then shortened in this order; the headline last, it is what the notification shows.
SHORTENABLE = ("instruction", "cancel_reason", "event", "headline")
ELLIPSIS = "…"


@dataclass(frozen=True)
class PushMessage:
    """One alert version for residents of one language preference, ready to encrypt."""

    payload: bytes
    urgency: str
    ttl: int
    topic: str


def encode(message: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON (Japanese stays 3 bytes a character instead of a 6-byte escape)."""
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode()


def fit_payload(message: dict[str, Any], limit: int = MAX_PLAINTEXT_BYTES) -> bytes:
    """The message as JSON of at most `limit` bytes: big parts dropped, then texts shortened.

    A trimmed message says `"truncated": true`, so the device knows to open the full alert.
    """
    payload = encode(message)
    if len(payload) <= limit:
        return payload
    trimmed = {**message, "truncated": True}
    for key in DROPPABLE:
        trimmed.pop(key, None)
        payload = encode(trimmed)
        if len(payload) <= limit:
            return payload
    for key in SHORTENABLE:
        original = trimmed.get(key)
        if not isinstance(original, str):
            continue
        keep = len(original)
        while keep > 0 and len(payload) > limit:
            # A character takes at most 6 bytes in JSON: cut at least what is over, in one go.
            keep -= max(1, -(-(len(payload) - limit) // 6))
            trimmed[key] = original[:keep] + ELLIPSIS if keep > 0 else ""
            payload = encode(trimmed)
        if len(payload) <= limit:
            return payload
    raise ValueError(f"alert message cannot be made to fit {limit} bytes")


def with_receipt(payload: bytes, receipt: str) -> bytes:
    """The fitted JSON payload with one recipient's receipt token added (fits the reserve)."""
    if not receipt:
        return payload
    extra = encode({"receipt": receipt})[1:-1]
    if len(extra) + 1 > RECEIPT_RESERVE_BYTES:
        raise ValueError("receipt token longer than the room kept for it")
    return payload[:-1] + b"," + extra + b"}"


def urgency_for(evacuation_level: int | None) -> str:
    """RFC 8030 Urgency: `high` wakes a phone at once; 警戒レベル 4–5 (evacuate) need that."""
    return "high" if evacuation_level is not None and evacuation_level >= 4 else "normal"


def ttl_for(expires: datetime, now: datetime) -> int:
    """Seconds the push service may hold the message: until the alert expires, at most 4 weeks."""
    return max(0, min(MAX_TTL_S, int((expires - now).total_seconds())))


def topic_for(alert_id: str) -> str:
    """RFC 8030 Topic: one per alert, so an Update or Cancel replaces the earlier message
    still waiting at the push service. At most 32 characters of the URL-safe base64 alphabet.
    """
    digest = hashlib.sha256(f"kizuna-alert:{alert_id}".encode()).digest()[:24]
    return base64.urlsafe_b64encode(digest).decode("ascii")  # 24 bytes: 32 chars, no padding


def build_message(version: AlertVersion, languages: list[str], now: datetime) -> PushMessage:
    """The push message of one version for a resident who reads `languages`."""
    content = render_message(version, languages)
    return PushMessage(
        payload=fit_payload(content, MAX_PLAINTEXT_BYTES - RECEIPT_RESERVE_BYTES),
        urgency=urgency_for(content.get("evacuation_level")),
        ttl=ttl_for(version.expires, now),
        topic=topic_for(version.alert_id),
    )
