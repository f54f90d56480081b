"""The `webpush.notify` task: one push message to one user's or one resident's phone.

Domains (dispatch offers, mutual-aid request steps) must not import integrations, so they
submit this task by name, and only when it is registered:

    if "webpush.notify" in runtime.registry.names():
        runtime.tasks.submit("webpush.notify", user_id=..., payload={...}, topic="...")

These messages are not alert deliveries: no delivery rows, the outcome is logged. 404/410
removes the push subscription; 429, 5xx and network errors raise `PushRetry`, so the task
runner tries again with backoff (in-process or Celery); anything else is logged and dropped.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from typing import TYPE_CHECKING, Any, Literal

import httpx
from sqlalchemy import select

from integrations.webpush import service
from integrations.webpush.delivery import (
    CHANNEL,
    REQUEST_TIMEOUT_S,
    Target,
    WebPushNotifier,
    classify,
)
from integrations.webpush.keys import KeyStore
from integrations.webpush.message import MAX_PLAINTEXT_BYTES, MAX_TTL_S, PushMessage, encode
from integrations.webpush.models import PushSubscription
from kizuna.db import utcnow

if TYPE_CHECKING:
    from kizuna.runtime import Runtime

log = logging.getLogger(__name__)

NOTIFY = "webpush.notify"
URGENCIES = ("very-low", "low", "normal", "high")
# The runner's backoff (1 s, 2 s, 4 s … at most a minute, jittered) between tries.
MAX_RETRIES = 5
BACKOFF_S = 1.0
BACKOFF_MAX_S = 60.0

Result = Literal["sent", "gone", "failed", "none", "expired", "invalid"]


class PushRetry(RuntimeError):
    """The push service asked us to come back later (429, 5xx) or could not be reached."""


def topic_of(key: str) -> str:
    """RFC 8030 Topic for `key` (e.g. `dispatch:<id>`): a newer message with the same key
    replaces one still waiting at the push service. 32 characters of base64url, as §5.4 asks."""
    digest = hashlib.sha256(f"kizuna:{key}".encode()).digest()[:24]
    return base64.urlsafe_b64encode(digest).decode("ascii")


def _notifier(runtime: Runtime) -> WebPushNotifier:
    """The registered notifier (it holds the VAPID key and the signed-JWT cache)."""
    notifier = runtime.notifiers.get(CHANNEL)
    if isinstance(notifier, WebPushNotifier):
        return notifier
    keys = runtime.cache.get("webpush.keys")
    made = WebPushNotifier(runtime.settings, keys if isinstance(keys, KeyStore) else None)
    cached = runtime.cache.setdefault("webpush.notify.notifier", made)
    assert isinstance(cached, WebPushNotifier)
    return cached


def notify(
    runtime: Runtime,
    user_id: str | None = None,
    subscription_id: str | None = None,
    payload: dict[str, Any] | None = None,
    topic: str = "",
    urgency: str = "normal",
    ttl_s: int = 3600,
) -> Result:
    """Push `payload` (JSON) to the phone of `user_id` or of resident `subscription_id`."""
    if (user_id is None) == (subscription_id is None):
        log.error("webpush.notify: give exactly one of user_id and subscription_id")
        return "invalid"
    body = encode(payload or {})
    if len(body) > MAX_PLAINTEXT_BYTES:
        # Our own messages are small; one this big is a bug, and waiting will not shrink it.
        log.error("webpush.notify: payload of %d bytes is over the limit; dropped", len(body))
        return "invalid"
    owner = f"user {user_id}" if user_id is not None else f"subscription {subscription_id}"
    with runtime.db.session() as session:
        column = (
            PushSubscription.user_id if user_id is not None else PushSubscription.subscription_id
        )
        push = session.scalar(
            select(PushSubscription).where(column == (user_id or subscription_id))
        )
        if push is None:
            log.debug("webpush.notify: %s has no push subscription", owner)
            return "none"
        if push.expires_at is not None and push.expires_at <= utcnow():
            log.info("webpush.notify: the push subscription of %s has expired", owner)
            return "expired"
        message = PushMessage(
            payload=body,
            urgency=urgency if urgency in URGENCIES else "normal",
            ttl=max(0, min(MAX_TTL_S, int(ttl_s))),
            topic=topic_of(topic) if topic else topic_of(push.id),
        )
        target = Target(push.id, push.endpoint, push.p256dh, push.auth, 1, message)
    notifier = _notifier(runtime)
    try:
        request_body, headers = notifier.request(target)
    except Exception:  # a key or subject we cannot use will not improve by retrying
        log.exception("webpush.notify: cannot encrypt or sign for %s", owner)
        return "failed"
    try:
        with httpx.Client(timeout=REQUEST_TIMEOUT_S, follow_redirects=False) as client:
            response = client.post(target.endpoint, content=request_body, headers=headers)
    except httpx.HTTPError as exc:
        raise PushRetry(f"push to {owner}: {type(exc).__name__}: {exc}") from exc
    outcome = classify(target, response)
    if outcome.kind == "sent":
        log.info("webpush.notify: sent to %s", owner)
        return "sent"
    if outcome.kind == "gone":
        with runtime.db.session() as session:
            service.forget_gone_by_id(session, target.subscription_id, target.endpoint)
        log.info("webpush.notify: the push subscription of %s is gone; removed", owner)
        return "gone"
    if outcome.kind == "retry":
        raise PushRetry(f"push to {owner}: {outcome.error}")
    log.warning("webpush.notify: push to %s refused: %s", owner, outcome.error)
    return "failed"
