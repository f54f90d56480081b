"""Sending alerts to webhooks: signed POSTs, one delivery per (endpoint, version), retried.

Each attempt is its own task run. A failure worth retrying (a network error, 5xx, 429) records
when the next attempt is due and schedules it (a timer in the embedded mode, a Celery countdown
in the distributed one), so a dead receiver never holds a worker thread that residents' fan-out
needs. The database row decides who may attempt: an attempt is *claimed* by one conditional
UPDATE, so a redelivered or duplicated task never posts twice, and never again after success.
`resume` picks up whatever a restart or a lost timer left overdue.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

import httpx
from sqlalchemy import and_, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from alerts.drills import marked_headline
from alerts.models import Alert, AlertVersion
from alerts.service import format_cap_time
from integrations.webhooks import service
from integrations.webhooks.addresses import check_public_host
from integrations.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from integrations.webhooks.signing import signature_header
from kizuna.db import new_id, utcnow
from kizuna.errors import InvalidInput
from kizuna.http import parse_retry_after

if TYPE_CHECKING:
    from kizuna.runtime import Runtime

log = logging.getLogger(__name__)

EVENT_ALERT_ISSUED = "alert.issued"
DISPATCH = "webhooks.dispatch"
DELIVER = "webhooks.deliver"
RESUME = "webhooks.resume"
JSON_CONTENT_TYPE = "application/json"
CAP_CONTENT_TYPE = "application/cap+xml"
USER_AGENT = "Kizuna-Webhooks/1"
# How much of a failing receiver's answer the log keeps.
ERROR_SNIPPET_BYTES = 300


@dataclass(frozen=True)
class RetryPolicy:
    """When to try again, and when to give up.

    With the defaults a delivery is tried 10 times over 7 to 14 minutes (10 on average)
    before it is marked failed: long enough to ride out a receiver's restart or deploy.
    """

    max_attempts: int = 10
    # Wait before attempt n+1 is drawn from [c/2, c] with c = min(max_delay_s, base_s * 2**(n-1)):
    # exponential, with jitter so many failed deliveries do not come back in one burst.
    base_s: float = 2.0
    max_delay_s: float = 300.0
    # A receiver's Retry-After is honoured up to this long.
    retry_after_max_s: float = 900.0
    timeout_s: float = 10.0
    # An attempt claimed longer ago than this (its worker died mid-POST) may be taken over.
    lease_s: float = 60.0
    # Overdue deliveries older than this are picked up again by `resume`.
    resume_grace_s: float = 30.0

    def backoff(self, attempt: int) -> float:
        """The wait after failed attempt number `attempt` (1-based)."""
        ceiling = min(self.max_delay_s, self.base_s * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)


# Module-level so an operator (or a test) can replace it; read at each attempt.
RETRY_POLICY = RetryPolicy()


@dataclass(frozen=True)
class AttemptOutcome:
    """What one POST came to: success, worth retrying, or final failure."""

    result: Literal["success", "retry", "final"]
    status_code: int | None = None
    error: str | None = None
    retry_after_s: float | None = None


# ---------------------------------------------------------------------------------------------
# Payloads


def _marked_content(version: AlertVersion) -> dict[str, Any]:
    """The version's content with each headline marked when it is a drill (stored as written)."""
    infos = version.content.get("info") or []
    return {
        **version.content,
        "info": [
            {
                **info,
                "headline": marked_headline(version.status, info["language"], info["headline"]),
            }
            for info in infos
        ],
    }


def alert_data(version: AlertVersion, alert: Alert | None) -> dict[str, Any]:
    """One alert version in every language, as JSON receivers get it."""
    return {
        "alert_id": version.alert_id,
        "version": version.version,
        "identifier": version.identifier,
        "sender": version.sender,
        "sent": format_cap_time(version.sent),
        "expires": format_cap_time(version.expires),
        "status": version.status,
        "msg_type": version.msg_type,
        "references": version.references,
        "municipality_code": alert.municipality_code if alert is not None else None,
        "content": _marked_content(version),
        "area_geometry": version.area_geometry,
    }


def json_body(version: AlertVersion, alert: Alert | None, delivery_id: str) -> bytes:
    """The JSON event; the delivery id is inside too, where the signature covers it."""
    event = {
        "event": EVENT_ALERT_ISSUED,
        "delivery_id": delivery_id,
        "msg_type": version.msg_type,
        "alert": alert_data(version, alert),
    }
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()


CapExporter = Callable[[Session, AlertVersion], bytes]


def cap_exporter() -> CapExporter | None:
    """The CAP exporter of `integrations.cap`."""
    from integrations.cap.export import alert_version_to_cap

    return alert_version_to_cap


def render_body(
    session: Session, fmt: str, version: AlertVersion, delivery_id: str
) -> tuple[bytes, str]:
    """The body and Content-Type for an endpoint's format (CAP falls back to JSON, logged)."""
    alert = session.get(Alert, version.alert_id)
    if fmt == "cap":
        exporter = cap_exporter()
        if exporter is not None:
            try:
                return exporter(session, version), CAP_CONTENT_TYPE
            except Exception:
                # An alert must still reach the receiver; its Content-Type says what it got.
                log.exception("CAP export of %s failed; sending JSON", version.id)
    return json_body(version, alert, delivery_id), JSON_CONTENT_TYPE


def signed_headers(
    secret: str, body: bytes, content_type: str, delivery_id: str, timestamp: int | None = None
) -> dict[str, str]:
    """The headers of one attempt; signed afresh each time, so the timestamp stays current."""
    moment = int(time.time()) if timestamp is None else timestamp
    return {
        "Content-Type": content_type,
        "User-Agent": USER_AGENT,
        "X-Kizuna-Event": EVENT_ALERT_ISSUED,
        "X-Kizuna-Delivery": delivery_id,
        "X-Kizuna-Timestamp": str(moment),
        "X-Kizuna-Signature": signature_header(secret, moment, body),
    }


# ---------------------------------------------------------------------------------------------
# One POST


def post(url: str, body: bytes, headers: dict[str, str], timeout_s: float) -> AttemptOutcome:
    """POST once and classify the answer; redirects are not followed (they could lead inside)."""
    try:
        with (
            httpx.Client(timeout=timeout_s, follow_redirects=False) as client,
            client.stream("POST", url, content=body, headers=headers) as response,
        ):
            status = response.status_code
            snippet = b""
            if not 200 <= status < 300:
                # Read only the start: a receiver must not make us download a huge error page.
                for chunk in response.iter_bytes():
                    snippet += chunk
                    if len(snippet) >= ERROR_SNIPPET_BYTES:
                        break
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            location = response.headers.get("location")
    except httpx.HTTPError as exc:
        return AttemptOutcome("retry", error=f"{type(exc).__name__}: {exc}"[:500])
    if 200 <= status < 300:
        return AttemptOutcome("success", status_code=status)
    text = snippet[:ERROR_SNIPPET_BYTES].decode("utf-8", "replace").strip()
    error = f"HTTP {status}" + (f": {text}" if text else "")
    if status == 429 or status >= 500:
        return AttemptOutcome("retry", status, error, retry_after)
    if 300 <= status < 400:
        error = f"HTTP {status}: redirects are not followed (Location: {location})"
    return AttemptOutcome("final", status, error)


# ---------------------------------------------------------------------------------------------
# Tasks


def _insert_ignore(session: Session) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def _ensure_deliveries(session: Session, version_id: str, endpoint_ids: list[str]) -> None:
    """One row per (endpoint, version), whoever gets here first; later inserts change nothing."""
    if not endpoint_ids:
        return
    insert = _insert_ignore(session)
    now = utcnow()
    session.execute(
        insert(WebhookDelivery)
        .values(
            [
                {
                    "delivery_id": new_id(),
                    "endpoint_id": endpoint_id,
                    "alert_version_id": version_id,
                    "event": EVENT_ALERT_ISSUED,
                    "state": "pending",
                    "attempts": 0,
                    "created_at": now,
                }
                for endpoint_id in endpoint_ids
            ]
        )
        .on_conflict_do_nothing(index_elements=["endpoint_id", "alert_version_id"])
    )


def dispatch(runtime: Runtime, version_id: str) -> int:
    """Record a delivery for every endpoint that wants a version and submit the first attempts."""
    with runtime.db.session() as session:
        version = session.get(AlertVersion, version_id)
        if version is None:
            log.error("webhooks: no alert version %s", version_id)
            return 0
        endpoint_ids = [e.id for e in service.endpoints_for_version(session, version)]
        _ensure_deliveries(session, version_id, endpoint_ids)
    for endpoint_id in endpoint_ids:
        runtime.tasks.submit(DELIVER, endpoint_id=endpoint_id, version_id=version_id)
    return len(endpoint_ids)


@dataclass(frozen=True)
class _Claimed:
    row_id: int
    number: int
    url: str
    secret: str
    body: bytes
    content_type: str
    delivery_id: str


def _claim(session: Session, endpoint_id: str, version_id: str) -> _Claimed | None:
    """Take the next attempt of a delivery, or None when it is done, not due, or someone's."""
    policy = RETRY_POLICY
    version = session.get(AlertVersion, version_id)
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if version is None or endpoint is None:
        log.error("webhooks: no endpoint %s or version %s", endpoint_id, version_id)
        return None
    _ensure_deliveries(session, version_id, [endpoint_id])
    delivery = session.scalar(
        select(WebhookDelivery).where(
            WebhookDelivery.endpoint_id == endpoint_id,
            WebhookDelivery.alert_version_id == version_id,
        )
    )
    if delivery is None or delivery.state in ("succeeded", "failed"):
        return None
    now = utcnow()
    if endpoint.deleted_at is not None:
        delivery.state = "failed"
        delivery.completed_at = now
        delivery.last_error = "webhook deleted"
        return None
    # A timer fires when the attempt is due; a second of slack absorbs clock granularity.
    due = now + timedelta(seconds=1)
    claimed = session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id == delivery.id,
            or_(
                and_(
                    WebhookDelivery.state == "pending",
                    or_(
                        WebhookDelivery.next_attempt_at.is_(None),
                        WebhookDelivery.next_attempt_at <= due,
                    ),
                ),
                and_(
                    WebhookDelivery.state == "sending",
                    WebhookDelivery.claimed_at < now - timedelta(seconds=policy.lease_s),
                ),
            ),
        )
        .values(state="sending", attempts=WebhookDelivery.attempts + 1, claimed_at=now)
        .returning(WebhookDelivery.attempts)
        .execution_options(synchronize_session=False)
    ).first()
    if claimed is None:
        return None
    number = int(claimed[0])
    session.add(WebhookAttempt(webhook_delivery_id=delivery.id, number=number, started_at=now))
    body, content_type = render_body(session, endpoint.format, version, delivery.delivery_id)
    return _Claimed(
        delivery.id,
        number,
        endpoint.url,
        endpoint.secret,
        body,
        content_type,
        delivery.delivery_id,
    )


def _attempt(runtime: Runtime, claim: _Claimed) -> AttemptOutcome:
    if runtime.settings.environment == "production":
        # Checked again at every attempt: the name may resolve elsewhere than at registration.
        parts = urlsplit(claim.url)
        try:
            check_public_host(
                parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
            )
        except InvalidInput as exc:
            return AttemptOutcome("final", error=f"refused: {exc.message}")
    headers = signed_headers(claim.secret, claim.body, claim.content_type, claim.delivery_id)
    return post(claim.url, claim.body, headers, RETRY_POLICY.timeout_s)


def _record(session: Session, claim: _Claimed, outcome: AttemptOutcome) -> float | None:
    """Log the attempt and move the delivery on; the wait before the next attempt, if any."""
    policy = RETRY_POLICY
    now = utcnow()
    delay: float | None = None
    if outcome.result == "retry" and claim.number < policy.max_attempts:
        delay = policy.backoff(claim.number)
        if outcome.retry_after_s is not None:
            delay = max(delay, min(outcome.retry_after_s, policy.retry_after_max_s))
    session.execute(
        update(WebhookAttempt)
        .where(
            WebhookAttempt.webhook_delivery_id == claim.row_id,
            WebhookAttempt.number == claim.number,
        )
        .values(
            finished_at=now,
            status_code=outcome.status_code,
            error=outcome.error,
            retry_in_s=delay,
        )
    )
    values: dict[str, Any] = {
        "last_status_code": outcome.status_code,
        "last_error": outcome.error,
        "claimed_at": None,
    }
    if outcome.result == "success":
        values.update(state="succeeded", completed_at=now, next_attempt_at=None)
    elif delay is None:
        if outcome.result == "retry":
            values["last_error"] = f"gave up after {claim.number} attempts: {outcome.error}"
        values.update(state="failed", completed_at=now, next_attempt_at=None)
    else:
        values.update(state="pending", next_attempt_at=now + timedelta(seconds=delay))
    # Only the holder of this attempt moves the row (a taken-over attempt has a higher number).
    session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id == claim.row_id,
            WebhookDelivery.state == "sending",
            WebhookDelivery.attempts == claim.number,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return delay


def deliver(runtime: Runtime, endpoint_id: str, version_id: str) -> str | None:
    """Make the next attempt of one delivery if it is due; returns what the attempt came to."""
    with runtime.db.session() as session:
        claim = _claim(session, endpoint_id, version_id)
    if claim is None:
        return None
    # No transaction is open while we wait for the receiver.
    outcome = _attempt(runtime, claim)
    with runtime.db.session() as session:
        delay = _record(session, claim, outcome)
    if outcome.result != "success":
        log.warning(
            "webhook %s attempt %d: %s%s",
            endpoint_id,
            claim.number,
            outcome.error,
            f"; next in {delay:.1f}s" if delay is not None else "; giving up",
        )
    if delay is not None:
        schedule_retry(runtime, delay, endpoint_id=endpoint_id, version_id=version_id)
    return outcome.result


def schedule_retry(runtime: Runtime, delay: float, **kwargs: str) -> None:
    """Submit the next attempt after `delay` seconds without holding a worker meanwhile."""
    if runtime.celery is not None:
        try:
            runtime.celery.send_task(DELIVER, kwargs=kwargs, countdown=delay)
        except Exception:
            log.exception("webhooks: could not schedule a retry; `resume` will pick it up")
        return

    def submit() -> None:
        try:
            runtime.tasks.submit(DELIVER, **kwargs)
        except Exception:
            # The runner is shut down (the process is stopping): the row stays due for `resume`.
            log.warning("webhooks: retry of %s not submitted; left for resume", kwargs)

    timer = threading.Timer(delay, submit)
    timer.daemon = True
    timer.start()


def resume(runtime: Runtime) -> int:
    """Submit again every delivery whose attempt is overdue or whose worker vanished mid-POST."""
    policy = RETRY_POLICY
    now = utcnow()
    grace = now - timedelta(seconds=policy.resume_grace_s)
    with runtime.db.session() as session:
        rows = session.execute(
            select(WebhookDelivery.endpoint_id, WebhookDelivery.alert_version_id).where(
                or_(
                    and_(
                        WebhookDelivery.state == "pending",
                        or_(
                            WebhookDelivery.next_attempt_at <= grace,
                            and_(
                                WebhookDelivery.next_attempt_at.is_(None),
                                WebhookDelivery.created_at <= grace,
                            ),
                        ),
                    ),
                    and_(
                        WebhookDelivery.state == "sending",
                        WebhookDelivery.claimed_at < now - timedelta(seconds=policy.lease_s),
                    ),
                )
            )
        ).all()
    for endpoint_id, version_id in rows:
        runtime.tasks.submit(DELIVER, endpoint_id=endpoint_id, version_id=version_id)
    if rows:
        log.warning("webhooks: resumed %d overdue deliveries", len(rows))
    return len(rows)


def register(runtime: Runtime) -> None:
    """Register the webhook tasks and the `alert.issued` handler (group "webhooks")."""
    runtime.registry.register(DISPATCH, dispatch)
    # HTTP failures are handled inside; runner retries cover only our own (database) errors.
    runtime.registry.register(DELIVER, deliver, max_retries=3)
    runtime.registry.register(RESUME, resume, max_retries=0)
    runtime.registry.every(RESUME, runtime.settings.reconcile_interval_s)

    async def on_issued(payload: dict[str, Any]) -> None:
        runtime.tasks.submit(DISPATCH, version_id=payload["version_id"])

    runtime.bus.subscribe(EVENT_ALERT_ISSUED, on_issued, group="webhooks")
