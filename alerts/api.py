"""HTTP and WebSocket routes of the alerts capability; thin: parse, call the service, answer."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Depends, Query, Response, WebSocket
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

import kizuna.routing
from alerts import receipts, service
from alerts.live import ResidentGateway
from alerts.models import Alert, AlertVersion, Subscription
from alerts.schemas import (
    AlertCancel,
    AlertCreate,
    AlertOut,
    AlertUpdate,
    ApprovalListItem,
    ApprovalOut,
    ApprovalReject,
    ApprovalRequest,
    DeliveriesOut,
    IssueOut,
    PreviewIn,
    PreviewOut,
    ReceiptIn,
    SubscriptionCreated,
    SubscriptionIn,
    SubscriptionOut,
)
from gis import to_geojson
from kizuna.deps import CurrentUser, DbSession, RuntimeDep, require_role
from kizuna.errors import InvalidInput
from kizuna.models import User

router = kizuna.routing.router(prefix="/api/v1", tags=["alerts"])
ws_router = kizuna.routing.router()
Officer = Annotated[User, Depends(require_role("officer", "admin"))]
subscription_bearer = HTTPBearer(auto_error=False, description="The subscription's secret token")
SubscriptionToken = Annotated[HTTPAuthorizationCredentials | None, Depends(subscription_bearer)]


def _version_out(version: AlertVersion) -> dict[str, Any]:
    return {
        "version": version.version,
        "identifier": version.identifier,
        "sender": version.sender,
        "msg_type": version.msg_type,
        "status": version.status,
        "sent": version.sent,
        "expires": version.expires,
        "references": version.references,
        "recipients_targeted": version.recipients_targeted,
        "content": version.content,
        "area_geometry": version.area_geometry,
    }


def _alert_out(alert: Alert, approval: dict[str, Any] | None = None) -> dict[str, Any]:
    content = alert.versions[-1].content if alert.versions else alert.draft
    return {
        "id": alert.id,
        "municipality_code": alert.municipality_code,
        "state": "expired"
        if alert.state == "issued" and not service.is_active(alert)
        else alert.state,
        "status": alert.status,
        "active": service.is_active(alert),
        "current_version": alert.current_version,
        "expires": alert.expires,
        "created_at": alert.created_at,
        "updated_at": alert.updated_at,
        "content": content,
        "versions": [_version_out(v) for v in alert.versions],
        "approval": approval,
    }


def _issue_out(version: AlertVersion, recipients: int) -> dict[str, Any]:
    return {
        "id": version.alert_id,
        "version": version.version,
        "identifier": version.identifier,
        "msg_type": version.msg_type,
        "recipients": recipients,
        "delivery": "queued",
    }


@router.post("/alerts", status_code=201, response_model=AlertOut)
def create_alert(body: AlertCreate, session: DbSession, runtime: RuntimeDep, user: Officer) -> Any:
    """Store a draft alert (nothing is sent)."""
    return _alert_out(service.create_alert(session, runtime.settings, user, body))


@router.post("/alerts/preview", response_model=PreviewOut)
def preview_alert(body: PreviewIn, session: DbSession, runtime: RuntimeDep, user: Officer) -> Any:
    """How many residents an area reaches, before anything is stored or sent."""
    targets, area = service.preview(session, runtime.settings, user, body.area, body.status)
    return {
        "recipients": len(targets.subscription_ids),
        "places": targets.places,
        "area": to_geojson(area),
    }


@router.post("/alerts/{alert_id}/issue", response_model=IssueOut)
def issue_alert(alert_id: str, session: DbSession, runtime: RuntimeDep, user: Officer) -> Any:
    """Issue a draft to every resident in its area."""
    return _issue_out(*service.issue_alert(session, runtime.settings, user, alert_id))


@router.post("/alerts/{alert_id}/update", response_model=IssueOut)
def update_alert(
    alert_id: str, body: AlertUpdate, session: DbSession, runtime: RuntimeDep, user: Officer
) -> Any:
    """Issue an Update of an active alert (CAP msgType Update, referencing earlier versions)."""
    return _issue_out(*service.update_alert(session, runtime.settings, user, alert_id, body))


@router.post("/alerts/{alert_id}/cancel", response_model=IssueOut)
def cancel_alert(
    alert_id: str,
    session: DbSession,
    runtime: RuntimeDep,
    user: Officer,
    body: AlertCancel | None = None,
) -> Any:
    """Cancel an active alert; everyone it reached is told."""
    return _issue_out(
        *service.cancel_alert(session, runtime.settings, user, alert_id, body or AlertCancel())
    )


@router.get("/alerts", response_model=list[AlertOut])
def list_alerts(
    session: DbSession,
    user: CurrentUser,
    active: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Any:
    """Alerts, newest first; `active=true` keeps those issued and not yet expired."""
    found = service.list_alerts(session, user, active, limit)
    approvals = service.current_approvals(session, user, found)
    return [_alert_out(a, approvals.get(a.id)) for a in found]


@router.get("/alerts/{alert_id}", response_model=AlertOut)
def get_alert(alert_id: str, session: DbSession, user: CurrentUser) -> Any:
    """One alert with its whole version history and its approval, if any."""
    alert = service.get_alert(session, user, alert_id)
    return _alert_out(alert, service.current_approvals(session, user, [alert]).get(alert.id))


@router.post("/alerts/{alert_id}/approval", status_code=201, response_model=ApprovalOut)
def request_approval(
    alert_id: str,
    session: DbSession,
    runtime: RuntimeDep,
    user: Officer,
    body: ApprovalRequest | None = None,
) -> Any:
    """Ask a second officer to approve issuing this draft, or the `changes` to this alert."""
    approval = service.request_approval(
        session, runtime.settings, user, alert_id, body or ApprovalRequest()
    )
    return service.describe_approval(session, user, approval)


@router.post("/alerts/{alert_id}/approval/approve", response_model=IssueOut)
def approve(alert_id: str, session: DbSession, runtime: RuntimeDep, user: Officer) -> Any:
    """Approve someone else's request: the alert is issued or updated now."""
    return _issue_out(*service.approve(session, runtime.settings, user, alert_id))


@router.post("/alerts/{alert_id}/approval/reject", response_model=ApprovalOut)
def reject(
    alert_id: str, session: DbSession, user: Officer, body: ApprovalReject | None = None
) -> Any:
    """Refuse someone else's request, saying why; a draft stays a draft."""
    if body is None:
        raise InvalidInput("reason is required", field="reason")
    approval = service.reject(session, user, alert_id, body.reason)
    return service.describe_approval(session, user, approval)


@router.delete("/alerts/{alert_id}/approval", response_model=ApprovalOut)
def withdraw(alert_id: str, session: DbSession, user: Officer) -> Any:
    """Take back your own pending request."""
    approval = service.withdraw(session, user, alert_id)
    return service.describe_approval(session, user, approval)


@router.get("/approvals", response_model=list[ApprovalListItem])
def list_approvals(
    session: DbSession,
    user: Officer,
    state: Literal["pending", "approved", "rejected", "withdrawn"] = "pending",
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> Any:
    """Approvals for the caller's municipalities (all for admins), newest first."""
    return service.list_approvals(session, user, state, limit)


@router.get("/alerts/{alert_id}/deliveries", response_model=DeliveriesOut)
def get_deliveries(alert_id: str, session: DbSession, user: CurrentUser) -> Any:
    """Delivery counts of the alert's current version, by channel and state."""
    return service.deliveries_summary(session, user, alert_id)


@router.post("/receipts", status_code=204)
def post_receipt(body: ReceiptIn, session: DbSession, runtime: RuntimeDep) -> Response:
    """A device confirms it holds an alert (the token came inside its Web Push payload)."""
    receipts.record_token_receipt(session, runtime.settings.resolved_secret_key(), body.receipt)
    return Response(status_code=204)


def _subscription_out(subscription: Subscription) -> dict[str, Any]:
    return {
        "id": subscription.id,
        "languages": subscription.languages,
        "drills": subscription.drills,
        "created_at": subscription.created_at,
        "updated_at": subscription.updated_at,
        "places": [
            {"label": p.label, "lon": p.lon, "lat": p.lat, "municipality_code": p.municipality_code}
            for p in subscription.places
        ],
    }


@router.post("/subscriptions", status_code=201, response_model=SubscriptionCreated)
def create_subscription(body: SubscriptionIn, session: DbSession) -> Any:
    """Register places and languages; the answer's token is shown only this once."""
    subscription, token = service.create_subscription(session, body)
    return {**_subscription_out(subscription), "token": token}


@router.put("/subscriptions/{subscription_id}", response_model=SubscriptionOut)
def replace_subscription(
    subscription_id: str, body: SubscriptionIn, session: DbSession, token: SubscriptionToken
) -> Any:
    """Replace places and languages (Authorization: Bearer <subscription token>)."""
    credentials = token.credentials if token else None
    return _subscription_out(
        service.replace_subscription(session, subscription_id, credentials, body)
    )


@router.delete("/subscriptions/{subscription_id}", status_code=204)
def delete_subscription(
    subscription_id: str, session: DbSession, token: SubscriptionToken
) -> Response:
    """Forget the subscription and everything recorded for it."""
    service.delete_subscription(session, subscription_id, token.credentials if token else None)
    return Response(status_code=204)


@ws_router.websocket("/ws/alerts")
async def alerts_socket(websocket: WebSocket, token: str | None = None) -> None:
    """Live alerts for one subscription: `?token=` is the subscription's secret."""
    gateway: ResidentGateway = websocket.app.state.resident_gateway
    await gateway.serve(websocket, token)
