"""Push subscriptions: checked, stored against a resident's subscription or a logged-in user,
and forgotten."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from alerts.models import Subscription
from alerts.service import subscription_by_token
from integrations.webpush.keys import b64url, b64url_decode
from integrations.webpush.models import PushSubscription
from integrations.webpush.schemas import PushSubscriptionIn
from kizuna import audit
from kizuna.db import new_id, utcnow
from kizuna.errors import Forbidden, InvalidInput, NotFound
from kizuna.models import User
from kizuna.settings import Settings

P256DH_BYTES = 65
AUTH_BYTES = 16
LOOPBACK_NAMES = ("localhost", "localhost.")


def _owned(session: Session, subscription_id: str, token: str | None) -> Subscription:
    """The subscription, when `token` is its own (401 without a known token, 403 for another)."""
    subscription = subscription_by_token(session, token)
    if subscription.id != subscription_id:
        raise Forbidden("the token belongs to another subscription")
    return subscription


def _is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_endpoint(settings: Settings, endpoint: str) -> str:
    """The endpoint, if we may POST alerts to it: https to a named push service.

    Plain http only to loopback, and only when `webpush_allow_loopback_http` is set (tests run
    their own push service). In production, no address literal in a private, loopback or
    link-local range: a resident must not make this server call into its own network.
    """
    if any(c.isspace() or ord(c) < 32 for c in endpoint):
        raise InvalidInput("endpoint contains whitespace or control characters", field="endpoint")
    try:
        parts = urlsplit(endpoint)
        port = parts.port  # raises on a malformed port
    except ValueError as exc:
        raise InvalidInput(f"endpoint is not a URL: {exc}", field="endpoint") from None
    host = parts.hostname or ""
    if not host:
        raise InvalidInput("endpoint has no host", field="endpoint")
    if parts.username is not None or parts.password is not None:
        raise InvalidInput("endpoint must not carry credentials", field="endpoint")
    if port == 0:
        raise InvalidInput("endpoint has port 0", field="endpoint")
    loopback = _is_loopback(host)
    if parts.scheme == "http" and loopback and settings.webpush_allow_loopback_http:
        return endpoint
    if parts.scheme != "https":
        raise InvalidInput("endpoint must be an https URL", field="endpoint")
    if settings.environment == "production" and not (
        loopback and settings.webpush_allow_loopback_http
    ):
        if loopback:
            raise InvalidInput("endpoint must not be a loopback address", field="endpoint")
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return endpoint
        if not address.is_global:
            raise InvalidInput(
                f"endpoint address {address} is not a public address", field="endpoint"
            )
    return endpoint


def check_keys(p256dh: str, auth: str) -> tuple[str, str]:
    """The browser's keys, checked and written base64url without padding."""
    try:
        public = b64url_decode(p256dh)
    except ValueError:
        raise InvalidInput("keys.p256dh is not base64url", field="keys.p256dh") from None
    if len(public) != P256DH_BYTES:
        raise InvalidInput(
            f"keys.p256dh must be {P256DH_BYTES} bytes (an uncompressed P-256 point), "
            f"not {len(public)}",
            field="keys.p256dh",
        )
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), public)
    except ValueError:
        raise InvalidInput("keys.p256dh is not a point on P-256", field="keys.p256dh") from None
    try:
        secret = b64url_decode(auth)
    except ValueError:
        raise InvalidInput("keys.auth is not base64url", field="keys.auth") from None
    if len(secret) != AUTH_BYTES:
        raise InvalidInput(
            f"keys.auth must be {AUTH_BYTES} bytes, not {len(secret)}", field="keys.auth"
        )
    return b64url(public), b64url(secret)


def _expires_at(expiration_time: int | None) -> datetime | None:
    if expiration_time is None:
        return None
    try:
        moment = datetime.fromtimestamp(expiration_time / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise InvalidInput("expirationTime is out of range", field="expirationTime") from None
    if moment <= utcnow():
        raise InvalidInput("expirationTime is in the past", field="expirationTime")
    return moment


def _upsert(
    session: Session,
    settings: Settings,
    owner: str,
    owner_id: str,
    body: PushSubscriptionIn,
) -> PushSubscription:
    """Store `body` for one owner (`subscription_id` or `user_id`), replacing what it had."""
    endpoint = check_endpoint(settings, body.endpoint)
    p256dh, auth = check_keys(body.keys.p256dh, body.keys.auth)
    expires_at = _expires_at(body.expiration_time)
    now = utcnow()
    values = {
        "endpoint": endpoint,
        "p256dh": p256dh,
        "auth": auth,
        "expires_at": expires_at,
        "updated_at": now,
    }
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    # One statement, so two PUTs at once (a phone retrying) cannot collide on the owner's
    # unique key.
    session.execute(
        insert(PushSubscription)
        .values(id=new_id(), created_at=now, **{owner: owner_id}, **values)
        .on_conflict_do_update(index_elements=[owner], set_=values)
    )
    stored = session.scalar(
        select(PushSubscription)
        .where(getattr(PushSubscription, owner) == owner_id)
        .execution_options(populate_existing=True)
    )
    assert stored is not None  # written just above, in this transaction
    return stored


def set_push_subscription(
    session: Session,
    settings: Settings,
    subscription_id: str,
    token: str | None,
    body: PushSubscriptionIn,
) -> PushSubscription:
    """Attach a browser's push subscription to a resident's subscription (replacing any)."""
    _owned(session, subscription_id, token)
    stored = _upsert(session, settings, "subscription_id", subscription_id, body)
    # The endpoint URL is a capability (its path is the push token): only its host is recorded.
    host = urlsplit(stored.endpoint).hostname
    actor = f"resident:{subscription_id}"
    audit.record(session, actor=actor, action="webpush.register", subject=stored.id, service=host)
    return stored


def get_push_subscription(
    session: Session, subscription_id: str, token: str | None
) -> PushSubscription:
    """The push subscription of a resident's subscription; 404 when there is none."""
    _owned(session, subscription_id, token)
    stored = session.scalar(
        select(PushSubscription).where(PushSubscription.subscription_id == subscription_id)
    )
    if stored is None:
        raise NotFound("this subscription has no Web Push subscription")
    return stored


def remove_push_subscription(session: Session, subscription_id: str, token: str | None) -> None:
    """Stop pushing to the resident's phone; alerts still reach them live. Idempotent."""
    _owned(session, subscription_id, token)
    session.execute(
        delete(PushSubscription).where(PushSubscription.subscription_id == subscription_id)
    )
    audit.record(
        session, actor=f"resident:{subscription_id}", action="webpush.delete", subject=None
    )


def set_user_push_subscription(
    session: Session, settings: Settings, user: User, body: PushSubscriptionIn
) -> PushSubscription:
    """Attach a browser's push subscription to a logged-in user (replacing any): dispatch
    offers and aid request steps reach their phone with the app closed."""
    stored = _upsert(session, settings, "user_id", user.id, body)
    host = urlsplit(stored.endpoint).hostname
    audit.record(session, actor=user, action="webpush.register", subject=stored.id, service=host)
    return stored


def get_user_push_subscription(session: Session, user: User) -> PushSubscription:
    """The user's push subscription; 404 when there is none (never given, removed, or gone)."""
    stored = session.scalar(select(PushSubscription).where(PushSubscription.user_id == user.id))
    if stored is None:
        raise NotFound("you have no Web Push subscription")
    return stored


def remove_user_push_subscription(session: Session, user: User) -> None:
    """Stop pushing to the user's phone; the WebSocket still works. Idempotent."""
    session.execute(delete(PushSubscription).where(PushSubscription.user_id == user.id))
    audit.record(session, actor=user, action="webpush.delete", subject=None)


def forget_gone(session: Session, subscription_id: str, endpoint: str) -> None:
    """The push service says the endpoint is gone (404/410): never push to it again.

    Only that endpoint: a resident who meanwhile registered a new one keeps it.
    """
    removed = session.execute(
        delete(PushSubscription)
        .where(
            PushSubscription.subscription_id == subscription_id,
            PushSubscription.endpoint == endpoint,
        )
        .returning(PushSubscription.id)
    ).all()
    for (push_id,) in removed:
        _audit_gone(session, push_id, endpoint)


def forget_gone_by_id(session: Session, push_id: str, endpoint: str) -> None:
    """Like `forget_gone`, for the row `push_id` (a user's or a resident's)."""
    removed = session.execute(
        delete(PushSubscription)
        .where(PushSubscription.id == push_id, PushSubscription.endpoint == endpoint)
        .returning(PushSubscription.id)
    ).all()
    if removed:
        _audit_gone(session, push_id, endpoint)


def _audit_gone(session: Session, push_id: str, endpoint: str) -> None:
    # The endpoint URL is a capability to push to that phone; the push service's host is enough.
    audit.record(
        session,
        actor=None,
        action="webpush.gone",
        subject=push_id,
        service=urlsplit(endpoint).hostname,
    )
