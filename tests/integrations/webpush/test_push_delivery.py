"""Alerts reach residents' phones by Web Push, through a real (local) push service."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from alerts.models import Delivery
from integrations.webpush import delivery
from integrations.webpush.delivery import WebPushNotifier
from integrations.webpush.models import PushSubscription
from tests.integrations.webpush.receiver import Browser, PushReceiver
from tests.support import (
    LiveServer,
    Resident,
    audit_entries,
    http,
    make_settings,
    start_server,
    wait_for,
)

INSIDE = {"label": "home", "lon": 139.01, "lat": 35.01}  # in the west half of city A


@pytest.fixture
def push_server(tmp_path: Path, database_url: str | None) -> Iterator[LiveServer]:
    """The live server (SQLite and PostgreSQL) allowed to push to a service on loopback http."""
    settings = make_settings(tmp_path, database_url, webpush_allow_loopback_http=True)
    live = start_server(settings)
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture
def receiver(push_server: LiveServer) -> Iterator[PushReceiver]:
    """A push service that knows the server's public key, as the browser told it."""
    response = http.get(f"{push_server.url}/api/v1/webpush/public-key", timeout=30)
    assert response.status_code == 200, response.text
    service = PushReceiver(response.json()["public_key"]).start()
    try:
        yield service
    finally:
        service.stop()


def bearer(resident: Resident) -> dict[str, str]:
    return {"Authorization": f"Bearer {resident.token}"}


def register_phone(server: LiveServer, resident: Resident, browser: Browser) -> None:
    response = http.put(
        f"{server.url}/api/v1/subscriptions/{resident.id}/webpush",
        json=browser.subscription(),
        headers=bearer(resident),
        timeout=30,
    )
    assert response.status_code == 200, response.text


def delivery_row(server: LiveServer, resident: Resident) -> Delivery:
    row = find_delivery(server, resident)
    assert row is not None
    return row


def find_delivery(server: LiveServer, resident: Resident) -> Delivery | None:
    """The resident's latest webpush delivery record, if fan-out has made one yet."""
    with server.runtime.db.session() as session:
        return session.scalars(
            select(Delivery)
            .where(Delivery.subscription_id == resident.id, Delivery.channel == "webpush")
            .order_by(Delivery.id.desc())
        ).first()


def delivery_state(server: LiveServer, resident: Resident) -> str | None:
    row = find_delivery(server, resident)
    return row.state if row else None


def webpush_counts(server: LiveServer, alert_id: str) -> dict[str, int]:
    return dict(server.deliveries(alert_id)["channels"].get("webpush", {}))


def test_an_issued_alert_reaches_the_phone_encrypted_signed_and_in_the_residents_language(
    push_server: LiveServer, receiver: PushReceiver
) -> None:
    resident = push_server.subscribe([INSIDE], ["en"])
    push_server.subscribe([INSIDE], ["ja"])  # no phone registered: nothing to push
    register_phone(push_server, resident, receiver.browser("alice"))

    before_issue = datetime.now(UTC)
    issued = push_server.draft_and_issue()
    wait_for(lambda: len(receiver.delivered()) >= 1)
    after_delivery = datetime.now(UTC)
    wait_for(lambda: webpush_counts(push_server, issued["id"]).get("sent") == 1)

    time.sleep(0.5)  # anything more would be a second copy
    assert receiver.problems() == []
    [push] = receiver.delivered()
    assert push.message is not None
    assert push.message["alert_id"] == issued["id"]
    assert push.message["headline"] == "Evacuation order"
    assert push.urgency == "high"  # 警戒レベル 4
    expires = datetime.fromisoformat(push.message["expires"])
    assert push.ttl is not None
    # The push service keeps it no longer than the alert is valid, counted from when it was sent.
    ttl_window = (
        (expires - after_delivery).total_seconds(),
        (expires - before_issue).total_seconds(),
    )
    assert ttl_window[0] - 1 <= int(push.ttl) <= ttl_window[1]
    assert push.topic is not None and re.fullmatch(r"[A-Za-z0-9_-]{1,32}", push.topic)
    counts = webpush_counts(push_server, issued["id"])
    assert counts == {"pending": 0, "sent": 1, "delivered": 0, "failed": 0, "superseded": 0}
    # The service worker sends the payload's receipt back: now it reached the phone.
    with push_server.client() as client:
        confirmed = client.post("/api/v1/receipts", json={"receipt": push.message["receipt"]})
    assert confirmed.status_code == 204, confirmed.text
    assert webpush_counts(push_server, issued["id"])["delivered"] == 1

    # An update of the alert replaces the notification: same Topic, now at level 3.
    with push_server.client() as client:
        updated = client.post(
            f"/api/v1/alerts/{issued['id']}/update",
            json={"evacuation_level": 3},
            headers=push_server.auth("officer-a"),
        )
    assert updated.status_code == 200, updated.text
    wait_for(lambda: len(receiver.delivered()) >= 2)
    second = receiver.delivered()[1]
    assert second.message is not None and second.message["msg_type"] == "Update"
    assert second.topic == push.topic
    assert second.urgency == "normal"


def test_a_push_service_answering_gone_removes_the_push_subscription(
    push_server: LiveServer, receiver: PushReceiver
) -> None:
    resident = push_server.subscribe([INSIDE], ["ja"])
    register_phone(push_server, resident, receiver.browser("bob"))
    receiver.answer(410)

    issued = push_server.draft_and_issue()
    wait_for(lambda: webpush_counts(push_server, issued["id"]).get("failed") == 1)

    row = delivery_row(push_server, resident)
    assert (row.state, row.error, row.attempts) == ("failed", "gone", 1)
    assert receiver.delivered() == []
    gone = http.get(
        f"{push_server.url}/api/v1/subscriptions/{resident.id}/webpush",
        headers=bearer(resident),
        timeout=30,
    )
    assert gone.status_code == 404, gone.text
    # The system's removal is on the record, without the endpoint (a capability to push).
    entries = audit_entries(push_server, action="webpush.gone")
    assert [(e["actor"], e["detail"]["service"]) for e in entries] == [("system", "127.0.0.1")]
    assert "/push/bob" not in str(entries)


def test_a_rate_limited_push_is_sent_again_after_retry_after_and_counted_twice(
    push_server: LiveServer, receiver: PushReceiver
) -> None:
    resident = push_server.subscribe([INSIDE], ["ja"])
    register_phone(push_server, resident, receiver.browser("carol"))
    receiver.answer(429, retry_after="1")

    issued = push_server.draft_and_issue()
    wait_for(lambda: len(receiver.delivered()) == 1)
    wait_for(lambda: delivery_state(push_server, resident) == "sent")

    first, second = receiver.requests
    assert (first.status, second.status) == (429, 201)
    assert second.at - first.at >= 0.9  # Retry-After: 1 was honoured
    assert delivery_row(push_server, resident).attempts == 2
    assert second.message is not None and second.message["headline"] == "避難指示"
    assert webpush_counts(push_server, issued["id"])["sent"] == 1


def test_a_failing_push_service_is_retried_by_the_retry_task_and_given_up_after_five_attempts(
    push_server: LiveServer, receiver: PushReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No waiting inside the chunk: every retry goes through the webpush.retry task.
    push_server.runtime.notifiers["webpush"] = WebPushNotifier(
        push_server.settings, inline_budget_s=0
    )
    monkeypatch.setattr(delivery, "BACKOFF_BASE_S", 0.05)
    patient = push_server.subscribe([INSIDE], ["ja"])
    register_phone(push_server, patient, receiver.browser("dave"))
    receiver.answer(500, times=2)

    first = push_server.draft_and_issue()
    wait_for(lambda: len(receiver.delivered()) == 1)
    assert [r.status for r in receiver.requests] == [500, 500, 201]
    assert delivery_row(push_server, patient).attempts == 3
    assert webpush_counts(push_server, first["id"])["sent"] == 1

    receiver.answer(503, times=10)
    second = push_server.draft_and_issue()
    wait_for(lambda: webpush_counts(push_server, second["id"]).get("failed") == 1)
    with push_server.runtime.db.session() as session:
        row = session.scalars(
            select(Delivery).where(Delivery.channel == "webpush", Delivery.state == "failed")
        ).one()
    assert row.attempts == delivery.MAX_ATTEMPTS
    assert row.error is not None and row.error.startswith("gave up after 5 attempts: HTTP 503")


BAD_PUSH_SUBSCRIPTIONS: list[tuple[str, dict[str, Any], str]] = [
    ("plain http", {"endpoint": "http://push.example.com/send/1"}, "endpoint"),
    ("not a URL", {"endpoint": "push service"}, "endpoint"),
    ("no host", {"endpoint": "https:///send/1"}, "endpoint"),
    ("credentials", {"endpoint": "https://me:pw@push.example.com/1"}, "endpoint"),
    ("p256dh too short", {"keys": {"p256dh": "BAAA"}}, "keys.p256dh"),
    ("p256dh not base64url", {"keys": {"p256dh": "B" * 85 + "+/"}}, "keys.p256dh"),
    ("p256dh off the curve", {"keys": {"p256dh": "BA" + "A" * 85}}, "keys.p256dh"),
    ("auth of 15 bytes", {"keys": {"auth": "AAAAAAAAAAAAAAAAAAAA"}}, "keys.auth"),
    ("auth missing", {"keys": {"auth": None}}, "keys.auth"),
    ("expired", {"expirationTime": 1_000_000}, "expirationTime"),
]


@pytest.mark.parametrize("backend", ["sqlite"])  # checks before any write: one database will do
def test_bad_push_subscriptions_are_refused_naming_the_field_and_nothing_is_stored(
    push_server: LiveServer, receiver: PushReceiver
) -> None:
    resident = push_server.subscribe([INSIDE], ["ja"])
    good = receiver.browser("erin").subscription()
    url = f"{push_server.url}/api/v1/subscriptions/{resident.id}/webpush"
    with push_server.client() as client:
        for case, change, field in BAD_PUSH_SUBSCRIPTIONS:
            body = {**good, **{k: v for k, v in change.items() if k != "keys"}}
            body["keys"] = {**good["keys"], **change.get("keys", {})}
            body["keys"] = {k: v for k, v in body["keys"].items() if v is not None}
            response = client.put(url, json=body, headers=bearer(resident))
            assert response.status_code == 422, (case, response.text)
            assert response.json()["error"]["field"] == field, (case, response.text)
        assert client.get(url, headers=bearer(resident)).status_code == 404


def test_only_the_subscriptions_own_token_sets_or_removes_its_push_subscription(
    push_server: LiveServer, receiver: PushReceiver
) -> None:
    resident = push_server.subscribe([INSIDE], ["ja"])
    other = push_server.subscribe([INSIDE], ["ja"])
    body = receiver.browser("frank").subscription()
    url = f"/api/v1/subscriptions/{resident.id}/webpush"
    with push_server.client() as client:
        assert client.put(url, json=body).status_code == 401
        assert client.put(url, json=body, headers=bearer(other)).status_code == 403
        assert client.delete(url, headers=bearer(other)).status_code == 403
        stored = client.put(url, json=body, headers=bearer(resident))
        assert stored.status_code == 200, stored.text
        assert stored.json()["endpoint"] == body["endpoint"]
        assert client.get(url, headers=bearer(resident)).status_code == 200
        assert client.delete(url, headers=bearer(resident)).status_code == 204
        assert client.get(url, headers=bearer(resident)).status_code == 404

        # Forgetting the resident forgets their phone too.
        assert client.put(url, json=body, headers=bearer(resident)).status_code == 200
        forgotten = client.delete(f"/api/v1/subscriptions/{resident.id}", headers=bearer(resident))
        assert forgotten.status_code == 204, forgotten.text
    with push_server.runtime.db.session() as session:
        assert session.scalar(select(func.count()).select_from(PushSubscription)) == 0
