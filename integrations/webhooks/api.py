"""HTTP routes of the webhooks integration: register, list, delete, read the delivery log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, Response

import kizuna.routing
from alerts.models import AlertVersion
from integrations.webhooks import service
from integrations.webhooks.models import WebhookDelivery, WebhookEndpoint
from integrations.webhooks.schemas import (
    DeliveryOut,
    WebhookCreate,
    WebhookCreated,
    WebhookOut,
)
from kizuna.deps import DbSession, RuntimeDep, require_role
from kizuna.models import User

router = kizuna.routing.router(prefix="/api/v1/webhooks", tags=["webhooks"])
Registrant = Annotated[User, Depends(require_role(*service.REGISTRANT_ROLES))]


def _endpoint_out(endpoint: WebhookEndpoint, owner: str) -> dict[str, Any]:
    return {
        "id": endpoint.id,
        "owner": owner,
        "url": endpoint.url,
        "format": endpoint.format,
        "municipality_codes": endpoint.municipality_codes,
        "created_at": endpoint.created_at,
    }


def _delivery_out(delivery: WebhookDelivery, version: AlertVersion) -> dict[str, Any]:
    return {
        "delivery_id": delivery.delivery_id,
        "event": delivery.event,
        "alert_id": version.alert_id,
        "alert_version_id": version.id,
        "version": version.version,
        "msg_type": version.msg_type,
        "state": delivery.state,
        "attempts": [
            {
                "number": attempt.number,
                "started_at": attempt.started_at,
                "finished_at": attempt.finished_at,
                "status_code": attempt.status_code,
                "error": attempt.error,
                "retry_in_s": attempt.retry_in_s,
            }
            for attempt in delivery.attempt_log
        ],
        "created_at": delivery.created_at,
        "next_attempt_at": delivery.next_attempt_at,
        "completed_at": delivery.completed_at,
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
    }


@router.post("", status_code=201, response_model=WebhookCreated)
def create_webhook(
    body: WebhookCreate, session: DbSession, runtime: RuntimeDep, user: Registrant
) -> Any:
    """Register an endpoint; the answer holds its secret, which is never shown again."""
    endpoint = service.create_endpoint(session, runtime.settings, user, body)
    return {**_endpoint_out(endpoint, user.username), "secret": endpoint.secret}


@router.get("", response_model=list[WebhookOut])
def list_webhooks(session: DbSession, user: Registrant) -> Any:
    """The caller's endpoints (an admin's: everyone's), without secrets."""
    endpoints = service.list_endpoints(session, user)
    owners = service.owner_names(session, endpoints)
    return [_endpoint_out(e, owners.get(e.owner_id, "")) for e in endpoints]


@router.delete("/{webhook_id}", status_code=204)
def delete_webhook(webhook_id: str, session: DbSession, user: Registrant) -> Response:
    """Stop sending to an endpoint."""
    service.delete_endpoint(session, user, webhook_id)
    return Response(status_code=204)


@router.get("/{webhook_id}/deliveries", response_model=list[DeliveryOut])
def list_deliveries(
    webhook_id: str,
    session: DbSession,
    user: Registrant,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Any:
    """The endpoint's deliveries, newest first, with every attempt."""
    rows = service.list_deliveries(session, user, webhook_id, limit)
    return [_delivery_out(delivery, version) for delivery, version in rows]
