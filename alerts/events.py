"""Bus topics the alerts capability emits and consumes."""

from __future__ import annotations

from typing import Any

ALERT_ISSUED = "alert.issued"  # payload: alert_id, version_id, version, msg_type (durable, outbox)
ALERT_EXPIRED = "alert.expired"  # payload: alert_id
ALERT_DELIVER = "alert.deliver"  # payload: version_id, subscription_ids (live; sweep backs it up)
SUBSCRIPTION_CHANGED = "subscription.changed"  # payload: subscription_id


def alert_issued(alert_id: str, version_id: str, version: int, msg_type: str) -> dict[str, Any]:
    return {
        "alert_id": alert_id,
        "version_id": version_id,
        "version": version,
        "msg_type": msg_type,
    }


def alert_deliver(version_id: str, subscription_ids: list[str]) -> dict[str, Any]:
    return {"version_id": version_id, "subscription_ids": subscription_ids}
