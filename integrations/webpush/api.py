"""HTTP routes of Web Push: the server's public key, and the push subscription of a resident
or of a logged-in user."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

import kizuna.routing
from integrations.webpush import service
from integrations.webpush.keys import KeyStore
from integrations.webpush.models import PushSubscription
from integrations.webpush.schemas import (
    PublicKeyOut,
    PushSubscriptionIn,
    PushSubscriptionOut,
    UserPushSubscriptionOut,
)
from kizuna.deps import CurrentUser, DbSession, RuntimeDep

router = kizuna.routing.router(prefix="/api/v1", tags=["webpush"])
subscription_bearer = HTTPBearer(auto_error=False, description="The subscription's secret token")
SubscriptionToken = Annotated[HTTPAuthorizationCredentials | None, Depends(subscription_bearer)]


def _keys(runtime: RuntimeDep) -> KeyStore:
    store = runtime.cache.get("webpush.keys")
    if not isinstance(store, KeyStore):
        store = runtime.cache.setdefault("webpush.keys", KeyStore(runtime.settings.data_dir))
    return store


def _out(push: PushSubscription) -> dict[str, Any]:
    return {
        "subscription_id": push.subscription_id,
        "endpoint": push.endpoint,
        "expires_at": push.expires_at,
        "created_at": push.created_at,
        "updated_at": push.updated_at,
    }


@router.get("/webpush/public-key", response_model=PublicKeyOut)
def public_key(keys: Annotated[KeyStore, Depends(_keys)]) -> Any:
    """The application server key to pass to `PushManager.subscribe` (no login needed)."""
    return {"public_key": keys.get().public_key}


@router.put("/subscriptions/{subscription_id}/webpush", response_model=PushSubscriptionOut)
def put_push_subscription(
    subscription_id: str,
    body: PushSubscriptionIn,
    session: DbSession,
    runtime: RuntimeDep,
    token: SubscriptionToken,
) -> Any:
    """Push alerts to this browser: the body is its `PushSubscription.toJSON()`
    (Authorization: Bearer <subscription token>)."""
    credentials = token.credentials if token else None
    return _out(
        service.set_push_subscription(session, runtime.settings, subscription_id, credentials, body)
    )


@router.get("/subscriptions/{subscription_id}/webpush", response_model=PushSubscriptionOut)
def get_push_subscription(
    subscription_id: str, session: DbSession, token: SubscriptionToken
) -> Any:
    """The push subscription in use; 404 when none (never given, removed, or gone)."""
    credentials = token.credentials if token else None
    return _out(service.get_push_subscription(session, subscription_id, credentials))


@router.delete("/subscriptions/{subscription_id}/webpush", status_code=204)
def delete_push_subscription(
    subscription_id: str, session: DbSession, token: SubscriptionToken
) -> Response:
    """Stop pushing to this browser (alerts still arrive over the WebSocket)."""
    credentials = token.credentials if token else None
    service.remove_push_subscription(session, subscription_id, credentials)
    return Response(status_code=204)


def _user_out(push: PushSubscription) -> dict[str, Any]:
    return {
        "user_id": push.user_id,
        "endpoint": push.endpoint,
        "expires_at": push.expires_at,
        "created_at": push.created_at,
        "updated_at": push.updated_at,
    }


@router.put("/webpush/me", response_model=UserPushSubscriptionOut)
def put_my_push_subscription(
    body: PushSubscriptionIn, session: DbSession, runtime: RuntimeDep, user: CurrentUser
) -> Any:
    """Push dispatch offers and aid request steps to this browser (any role; bearer JWT): the
    body is its `PushSubscription.toJSON()`. Replaces the browser given before."""
    return _user_out(service.set_user_push_subscription(session, runtime.settings, user, body))


@router.get("/webpush/me", response_model=UserPushSubscriptionOut)
def get_my_push_subscription(session: DbSession, user: CurrentUser) -> Any:
    """Your push subscription; 404 when none (never given, removed, or gone)."""
    return _user_out(service.get_user_push_subscription(session, user))


@router.delete("/webpush/me", status_code=204)
def delete_my_push_subscription(session: DbSession, user: CurrentUser) -> Response:
    """Stop pushing to your browser (the WebSockets still work). Idempotent."""
    service.remove_user_push_subscription(session, user)
    return Response(status_code=204)
