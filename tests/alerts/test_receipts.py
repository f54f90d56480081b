"""Receipts: the officer sees how many devices confirmed they hold the alert, not just "sent"."""

from __future__ import annotations

from pathlib import Path

import pytest

from alerts import receipts
from alerts.models import AlertVersion, Delivery
from kizuna.errors import InvalidInput
from tests.support import LiveServer, make_settings, wait_for


def test_a_live_device_confirms_and_the_console_counts_it_once(server: LiveServer) -> None:
    resident = server.subscribe([{"lon": 139.01, "lat": 35.01}], ["en"])
    silent = server.subscribe([{"lon": 139.02, "lat": 35.02}], ["en"])
    sock = server.connect(resident)
    quiet = server.connect(silent)
    issued = server.draft_and_issue()
    assert len(sock.alerts(expect=1)) == 1
    assert len(quiet.alerts(expect=1)) == 1

    sock.send({"received": issued["id"], "version": 1})
    assert sock.next_message() == {
        "type": "received",
        "alert_id": issued["id"],
        "version": 1,
        "recorded": True,
    }
    sock.send({"received": issued["id"], "version": 1})
    assert sock.next_message()["recorded"] is False

    websocket = server.deliveries(issued["id"])["channels"]["websocket"]
    # Both were sent; only the one that confirmed counts as delivered.
    assert websocket["sent"] == 2
    assert websocket["delivered"] == 1
    sock.close()
    quiet.close()


@pytest.mark.parametrize(
    ("message", "field"),
    [
        ({"received": 12, "version": 1}, "received"),
        ({"received": "x" * 40, "version": 1}, "received"),
        ({"received": "no-such-alert", "version": 1}, "received"),
        ({"received": "a", "version": 0}, "version"),
        ({"received": "a", "version": True}, "version"),
        ({"received": "a"}, "version"),
    ],
)
def test_bad_receipts_name_what_is_wrong(
    server: LiveServer, message: dict[str, object], field: str
) -> None:
    resident = server.subscribe([{"lon": 139.01, "lat": 35.01}], ["en"])
    sock = server.connect(resident)
    sock.send(message)
    answer = sock.next_message()
    assert answer["type"] == "error"
    assert answer["error"]["field"] == field
    sock.close()


def test_receipt_tokens_verify_only_when_made_with_our_secret(tmp_path: Path) -> None:
    secret = make_settings(tmp_path).resolved_secret_key()
    token = receipts.receipt_token(secret, 42)
    assert receipts.delivery_of(secret, token) == 42
    for forged in (
        receipts.receipt_token("another secret", 42),
        "43." + token.split(".")[1],
        "42",
        "x.y",
        "",
    ):
        with pytest.raises(InvalidInput) as caught:
            receipts.delivery_of(secret, forged)
        assert caught.value.field == "receipt"


def test_a_push_receipt_marks_that_delivery_only(server: LiveServer) -> None:
    first = server.subscribe([{"lon": 139.01, "lat": 35.01}], ["en"])
    second = server.subscribe([{"lon": 139.02, "lat": 35.02}], ["en"])
    issued = server.draft_and_issue()
    wait_for(lambda: server.deliveries(issued["id"])["recipients"] == 2)
    secret = server.runtime.settings.resolved_secret_key()
    with server.runtime.db.session() as session:
        version_id = session.query(AlertVersion.id).filter_by(alert_id=issued["id"]).scalar()
        delivery_id = (
            session.query(Delivery.id)
            .filter_by(alert_version_id=version_id, subscription_id=first.id)
            .scalar()
        )
    with server.client() as client:
        answer = client.post(
            "/api/v1/receipts", json={"receipt": receipts.receipt_token(secret, delivery_id)}
        )
        assert answer.status_code == 204
        counts = server.deliveries(issued["id"])["channels"]["websocket"]
        # Still pending on the live channel before: a receipt means the device has it.
        assert counts["delivered"] == 1
        assert counts["pending"] == 1

        forged = client.post("/api/v1/receipts", json={"receipt": f"{delivery_id}.AAAA"})
        assert forged.status_code == 422
        assert forged.json()["error"]["field"] == "receipt"
        missing = client.post("/api/v1/receipts", json={})
        assert missing.status_code == 422
    # The other resident's delivery is untouched.
    assert second.id
    assert server.deliveries(issued["id"])["channels"]["websocket"]["delivered"] == 1
