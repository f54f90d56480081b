"""Web Push delivery: the `webpush` channel of fan-out, with VAPID, encryption and retries.

How a chunk is sent (`WebPushNotifier.send`):

1. claim the chunk's pending `webpush` rows (`alerts.service.claim_pending`: atomically marked
   sent, `attempts` + 1), so that no two workers send the same row;
2. encrypt one payload per resident (RFC 8291, aes128gcm) and POST it with a VAPID
   `Authorization` (RFC 8292) and `TTL`, `Urgency` and `Topic` headers (RFC 8030);
3. record each answer: 2xx stays sent; 404/410 removes the push subscription (row failed,
   error "gone"); 429, 5xx and network errors go back to pending with the error, for another
   attempt after the Retry-After the push service asked for, or else exponential backoff;
   other answers fail the row. A row that failed `MAX_ATTEMPTS` times fails for good.

Retries: a wait that fits in the chunk's inline budget (each wait at most `INLINE_WAIT_MAX_S`,
all of them at most `INLINE_BUDGET_S`, and well inside the fan-out grace period so that the
reconciler does not take the chunk for lost) is slept inside `send()`: the chunk's task is
still running, so a crash leaves the chunk unfinished and the reconciler sends it again. A
longer wait leaves the rows pending and submits `webpush.retry` once it is due (`submit_later`:
a Celery countdown in distributed mode, a timer in this process otherwise), so no worker is
held while waiting; the task then sends the rows that are still pending.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import random
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

import httpx
from py_vapid import Vapid02
from pywebpush import WebPusher
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from alerts.models import AlertVersion, Delivery, Subscription
from alerts.receipts import receipt_token
from alerts.service import claim_pending
from integrations.webpush import service
from integrations.webpush.keys import KeyStore
from integrations.webpush.message import PushMessage, build_message, with_receipt
from integrations.webpush.models import PushSubscription
from kizuna import metrics
from kizuna.db import utcnow
from kizuna.http import parse_retry_after
from kizuna.settings import Settings

if TYPE_CHECKING:
    from kizuna.runtime import Runtime

log = logging.getLogger(__name__)

CHANNEL = "webpush"
RETRY = "webpush.retry"
MAX_ATTEMPTS = 5
BACKOFF_BASE_S = 1.0
BACKOFF_MAX_S = 300.0
INLINE_WAIT_MAX_S = 5.0
INLINE_BUDGET_S = 10.0
# A retry task that arrives earlier than this (clocks of two machines) waits a moment.
EARLY_TOLERANCE_S = 1.0
MAX_PARALLEL = 16
REQUEST_TIMEOUT_S = 10.0
# RFC 8292 §2: a JWT valid for at most 24 hours; we sign for 12 and renew with an hour left.
VAPID_LIFETIME_S = 12 * 3600
VAPID_RENEW_S = 3600
# The IN lists we build stay far below SQLite's limit on bound parameters.
BATCH = 500

Kind = Literal["sent", "gone", "retry", "failed"]


@dataclass(frozen=True)
class Target:
    """One claimed delivery: where to push, with what keys, and the message."""

    subscription_id: str
    endpoint: str
    p256dh: str
    auth: str
    attempts: int
    message: PushMessage
    # Sent back by the service worker so the officer sees "reached the device".
    receipt: str = ""


@dataclass(frozen=True)
class Outcome:
    """What the push service answered for one target."""

    target: Target
    kind: Kind
    error: str | None = None
    retry_after_s: float | None = None


def _batches(ids: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(ids), BATCH):
        yield ids[start : start + BATCH]


def backoff_s(attempts: int) -> float:
    """Exponential backoff after `attempts` tries (1 s, 2 s, 4 s, ...), half of it jittered."""
    ceiling = min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** max(0, attempts - 1))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def classify(target: Target, response: httpx.Response) -> Outcome:
    """What a push service's answer means for the delivery (RFC 8030 §5, §8.4)."""
    status = response.status_code
    if 200 <= status < 300:
        return Outcome(target, "sent")
    if status in (404, 410):
        return Outcome(target, "gone", "gone")
    detail = f"HTTP {status} {response.reason_phrase}".strip()
    body = response.text.strip()[:200]
    if body:
        detail += f": {body}"
    if status == 429 or status >= 500:
        return Outcome(
            target, "retry", detail, parse_retry_after(response.headers.get("Retry-After"))
        )
    return Outcome(target, "failed", detail)


class VapidSigner:
    """Signs the VAPID JWT once per push service origin and reuses it while it is fresh."""

    def __init__(self, keys: KeyStore, subject: str) -> None:
        self._keys = keys
        self._subject = subject
        self._cache: dict[str, tuple[str, int]] = {}
        self._lock = threading.Lock()

    def authorization(self, endpoint: str) -> str:
        """`vapid t=<JWT>, k=<public key>` for the origin of `endpoint`."""
        parts = urlsplit(endpoint)
        audience = f"{parts.scheme}://{parts.netloc}"
        now = int(time.time())
        with self._lock:
            cached = self._cache.get(audience)
            if cached is not None and cached[1] - now > VAPID_RENEW_S:
                return cached[0]
            expires = now + VAPID_LIFETIME_S
            vapid = Vapid02(self._keys.get().private_key)
            header = vapid.sign({"aud": audience, "exp": expires, "sub": self._subject})
            value = str(header["Authorization"]).replace(",k=", ", k=")
            self._cache[audience] = (value, expires)
            return value


class WebPushNotifier:
    """The `webpush` delivery channel (see `alerts.tasks.Notifier`)."""

    channel = CHANNEL

    def __init__(
        self,
        settings: Settings,
        keys: KeyStore | None = None,
        inline_budget_s: float = INLINE_BUDGET_S,
    ) -> None:
        self.settings = settings
        self.keys = keys or KeyStore(settings.data_dir)
        self.signer = VapidSigner(self.keys, settings.webpush_vapid_subject)
        # Inline waits must end well before the reconciler would resubmit the chunk.
        self.inline_budget_s = min(inline_budget_s, settings.fanout_grace_s / 3)

    def reachable(self, session: Any, subscription_ids: list[str]) -> list[str]:
        """The subscriptions of a chunk that have a live push subscription."""
        now = utcnow()
        found: list[str] = []
        for batch in _batches(subscription_ids):
            found.extend(
                session.scalars(
                    select(PushSubscription.subscription_id).where(
                        PushSubscription.subscription_id.in_(batch),
                        (PushSubscription.expires_at.is_(None))
                        | (PushSubscription.expires_at > now),
                    )
                )
            )
        return found

    def send(self, runtime: Runtime, version_id: str, subscription_ids: list[str]) -> None:
        """Send a chunk's pending rows; safe to call again (only pending rows are claimed)."""
        deadline = time.monotonic() + self.inline_budget_s
        ids = list(subscription_ids)
        while ids:
            targets, expires = self._claim(runtime, version_id, ids)
            if not targets:
                return
            outcomes = self._push_all(targets)
            ids, wait = self._record(runtime, version_id, outcomes, expires)
            if not ids:
                return
            if wait <= INLINE_WAIT_MAX_S and time.monotonic() + wait <= deadline:
                time.sleep(wait)
                continue
            log.info("webpush: %d deliveries of %s retry in %.1fs", len(ids), version_id, wait)
            submit_later(
                runtime,
                wait,
                RETRY,
                version_id=version_id,
                subscription_ids=ids,
                not_before=time.time() + wait,
            )
            return

    # -- claim ----------------------------------------------------------------------------

    def _claim(
        self, runtime: Runtime, version_id: str, subscription_ids: list[str]
    ) -> tuple[list[Target], datetime | None]:
        """Claim pending rows and prepare their messages; rows that cannot go fail now."""
        with runtime.db.session() as session:
            version = session.get(AlertVersion, version_id)
            if version is None:
                log.error("webpush: no alert version %s", version_id)
                return [], None
            claimed: list[str] = []
            for batch in _batches(subscription_ids):
                claimed.extend(claim_pending(session, version_id, batch, channel=CHANNEL))
            if not claimed:
                return [], version.expires
            now = utcnow()
            if version.expires <= now:
                _finish(session, version_id, claimed, "failed", "alert expired before sending")
                return [], version.expires
            rows: list[Any] = []
            for batch in _batches(claimed):
                rows.extend(
                    session.execute(
                        select(
                            PushSubscription, Subscription.languages, Delivery.attempts, Delivery.id
                        )
                        .join(Subscription, Subscription.id == PushSubscription.subscription_id)
                        .join(
                            Delivery,
                            (Delivery.subscription_id == PushSubscription.subscription_id)
                            & (Delivery.alert_version_id == version_id)
                            & (Delivery.channel == CHANNEL),
                        )
                        .where(PushSubscription.subscription_id.in_(batch))
                    ).all()
                )
            messages: dict[tuple[str, ...], PushMessage] = {}
            targets: list[Target] = []
            expired: list[str] = []
            secret = self.settings.resolved_secret_key()
            for push, languages, attempts, delivery_id in rows:
                if push.expires_at is not None and push.expires_at <= now:
                    expired.append(push.subscription_id)
                    continue
                key = tuple(languages)
                if key not in messages:
                    messages[key] = build_message(version, list(languages), now)
                targets.append(
                    Target(
                        push.subscription_id,
                        push.endpoint,
                        push.p256dh,
                        push.auth,
                        attempts,
                        messages[key],
                        receipt_token(secret, delivery_id),
                    )
                )
            _finish(session, version_id, expired, "failed", "push subscription expired")
            found = {row[0].subscription_id for row in rows}
            # Removed since the chunk was recorded (the resident unsubscribed, or a 410).
            missing = [sid for sid in claimed if sid not in found]
            _finish(session, version_id, missing, "failed", "no push subscription")
            return targets, version.expires

    # -- push -----------------------------------------------------------------------------

    def _push_all(self, targets: list[Target]) -> list[Outcome]:
        """POST every target, a few at a time (each push service answers in ~100 ms)."""
        limits = httpx.Limits(max_connections=MAX_PARALLEL)
        with (
            httpx.Client(
                timeout=REQUEST_TIMEOUT_S, limits=limits, follow_redirects=False
            ) as client,
            ThreadPoolExecutor(
                max_workers=min(MAX_PARALLEL, len(targets)), thread_name_prefix="webpush"
            ) as pool,
        ):
            return list(pool.map(lambda target: self._push(client, target), targets))

    def _push(self, client: httpx.Client, target: Target) -> Outcome:
        try:
            body, headers = self.request(target)
        except Exception as exc:  # a key or subject we cannot use will not improve by waiting
            log.exception("webpush: cannot prepare a message for %s", target.subscription_id)
            return Outcome(target, "failed", f"cannot encrypt or sign: {exc}"[:500])
        try:
            response = client.post(target.endpoint, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return Outcome(target, "retry", f"{type(exc).__name__}: {exc}"[:500])
        return classify(target, response)

    def request(self, target: Target) -> tuple[bytes, dict[str, str]]:
        """The encrypted body and the headers of one push request."""
        pusher = WebPusher(
            {"endpoint": target.endpoint, "keys": {"p256dh": target.p256dh, "auth": target.auth}}
        )
        payload = with_receipt(target.message.payload, target.receipt)
        body = bytes(pusher.encode(payload, "aes128gcm")["body"])
        headers = {
            "Authorization": self.signer.authorization(target.endpoint),
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
            "TTL": str(target.message.ttl),
            "Urgency": target.message.urgency,
            "Topic": target.message.topic,
        }
        return body, headers

    # -- record ---------------------------------------------------------------------------

    def _record(
        self,
        runtime: Runtime,
        version_id: str,
        outcomes: list[Outcome],
        expires: datetime | None,
    ) -> tuple[list[str], float]:
        """Write each answer on its row; returns the rows to try again and how long to wait."""
        again: list[str] = []
        wait = 0.0
        with runtime.db.session() as session:
            for outcome in outcomes:
                target = outcome.target
                sid = target.subscription_id
                if outcome.kind == "sent":
                    continue  # claimed as sent already
                if outcome.kind == "gone":
                    service.forget_gone(session, sid, target.endpoint)
                    _finish(session, version_id, [sid], "failed", "gone")
                    continue
                if outcome.kind == "failed":
                    _finish(session, version_id, [sid], "failed", outcome.error)
                    continue
                delay = (
                    outcome.retry_after_s
                    if outcome.retry_after_s is not None
                    else backoff_s(target.attempts)
                )
                if target.attempts >= MAX_ATTEMPTS:
                    error = f"gave up after {target.attempts} attempts: {outcome.error}"
                    _finish(session, version_id, [sid], "failed", error)
                elif expires is not None and utcnow().timestamp() + delay >= expires.timestamp():
                    error = f"alert expires before the push service takes more: {outcome.error}"
                    _finish(session, version_id, [sid], "failed", error)
                else:
                    _finish(session, version_id, [sid], "pending", outcome.error)
                    again.append(sid)
                    wait = max(wait, delay)
            issued = session.get(AlertVersion, version_id)
        sent = sum(1 for o in outcomes if o.kind == "sent")
        metrics.record_delivery(CHANNEL, "sent", sent)
        metrics.record_delivery(CHANNEL, "retry", len(again))
        metrics.record_delivery(CHANNEL, "failed", len(outcomes) - sent - len(again))
        for _ in range(sent if issued is not None else 0):
            metrics.observe_latency(CHANNEL, issued.sent)  # type: ignore[union-attr]
        if sent != len(outcomes):
            log.info(
                "webpush %s: %d sent, %d to retry, %d failed",
                version_id,
                sent,
                len(again),
                len(outcomes) - sent - len(again),
            )
        return again, wait


def _finish(
    session: Session, version_id: str, subscription_ids: list[str], state: str, error: str | None
) -> None:
    """Put claimed rows in their final (or pending-again) state with the error text."""
    if not subscription_ids:
        return
    values: dict[str, Any] = {"state": state, "error": (error or "")[:500] or None}
    if state != "sent":
        values["sent_at"] = None
    for batch in _batches(subscription_ids):
        session.execute(
            update(Delivery)
            .where(
                Delivery.alert_version_id == version_id,
                Delivery.channel == CHANNEL,
                Delivery.subscription_id.in_(batch),
            )
            .values(**values)
        )


class DelayedSubmitter:
    """Submits tasks when they fall due, from one timer thread: nothing waits in a worker."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._due: list[tuple[float, int, str, dict[str, Any]]] = []
        self._counter = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def submit(self, delay_s: float, name: str, kwargs: dict[str, Any]) -> None:
        """Submit `name` after `delay_s` seconds."""
        with self._wake:
            heapq.heappush(
                self._due, (time.monotonic() + delay_s, next(self._counter), name, kwargs)
            )
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="webpush-later", daemon=True)
                self._thread.start()
            self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._due or self._due[0][0] > time.monotonic():
                    timeout = self._due[0][0] - time.monotonic() if self._due else None
                    self._wake.wait(timeout)
                _, _, name, kwargs = heapq.heappop(self._due)
            try:
                self._runtime.tasks.submit(name, **kwargs)
            except Exception:
                # The runtime is shutting down (or the queue is away): the rows stay pending.
                log.warning("webpush: could not submit %s", name, exc_info=True)


def submit_later(runtime: Runtime, delay_s: float, name: str, **kwargs: Any) -> None:
    """Submit a task after a delay (the TaskRunner seam has no delay, so we add one here)."""
    if runtime.celery is not None:
        # Distributed: the broker keeps it, and any worker runs it when due.
        runtime.celery.send_task(name, kwargs=kwargs, countdown=delay_s)
        return
    submitter = runtime.cache.get("webpush.later")
    if not isinstance(submitter, DelayedSubmitter):
        submitter = runtime.cache.setdefault("webpush.later", DelayedSubmitter(runtime))
    submitter.submit(delay_s, name, kwargs)


def retry(
    runtime: Runtime, version_id: str, subscription_ids: list[str], not_before: float
) -> None:
    """The `webpush.retry` task: once `not_before` has come, send the rows still pending."""
    early = not_before - time.time()
    if early > EARLY_TOLERANCE_S:
        submit_later(
            runtime,
            early,
            RETRY,
            version_id=version_id,
            subscription_ids=subscription_ids,
            not_before=not_before,
        )
        return
    if early > 0:
        time.sleep(early)
    notifier = runtime.notifiers.get(CHANNEL)
    if notifier is None:
        log.error("webpush.retry: no webpush notifier registered")
        return
    notifier.send(runtime, version_id, subscription_ids)
