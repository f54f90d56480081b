"""Dispatch offers and aid request steps reach phones by Web Push, through a real push service.

One SQLite server for the module: these tests are about what the phone receives, not about
the database backend (the push table's constraints are checked on both by test_migrations).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, func, select

from integrations.webpush.models import PushSubscription
from integrations.webpush.notify import NOTIFY
from tests.dispatch.test_dispatch import (
    Responder,
    make_dispatch,
    make_incident,
    make_responder,
)
from tests.integrations.webpush.receiver import Browser, PushReceiver, PushRequest
from tests.integrations.webpush.test_push_delivery import BAD_PUSH_SUBSCRIPTIONS
from tests.mutual_aid.test_mutual_aid import make_volunteer, open_request, post
from tests.support import LiveServer, http, make_settings, start_server, wait_for

TOPIC = re.compile(r"[A-Za-z0-9_-]{1,32}")


@pytest.fixture(scope="module")
def push_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A live SQLite server allowed to push to a service on loopback http."""
    tmp: Path = tmp_path_factory.mktemp("user-push")
    live = start_server(make_settings(tmp, None, webpush_allow_loopback_http=True))
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture
def receiver(push_server: LiveServer) -> Iterator[PushReceiver]:
    """A fresh push service (per test) that knows the server's public key."""
    response = http.get(f"{push_server.url}/api/v1/webpush/public-key", timeout=30)
    assert response.status_code == 200, response.text
    service = PushReceiver(response.json()["public_key"]).start()
    try:
        yield service
    finally:
        service.stop()
        # Phones of this test point at a push service that is gone: pushing to them in a later
        # test would only keep the task runner busy retrying.
        with push_server.runtime.db.session() as session:
            session.execute(delete(PushSubscription))


def register_phone(server: LiveServer, headers: dict[str, str], browser: Browser) -> None:
    response = http.put(
        f"{server.url}/api/v1/webpush/me", json=browser.subscription(), headers=headers, timeout=30
    )
    assert response.status_code == 200, response.text
    assert response.json()["endpoint"] == browser.endpoint


def pushes_to(receiver: PushReceiver, name: str) -> list[PushRequest]:
    return receiver.delivered(name)


def test_an_offer_reaches_the_responders_phone_encrypted_signed_and_urgent(
    push_server: LiveServer, receiver: PushReceiver
) -> None:
    near = make_responder(push_server, km_north=1)
    no_phone = make_responder(push_server, km_north=1.5)
    register_phone(push_server, near.headers, receiver.browser("near"))
    mine = http.get(f"{push_server.url}/api/v1/webpush/me", headers=near.headers, timeout=30)
    assert mine.status_code == 200 and mine.json()["user_id"] == near.id

    incident_id = make_incident(push_server)
    dispatch = make_dispatch(push_server, incident_id, needed=2, respond_within_s=300)

    wait_for(lambda: len(receiver.delivered()) >= 1)
    time.sleep(0.5)  # anything more would be a second copy, or a push to the phoneless one
    assert receiver.problems() == []  # VAPID verified and the body decrypted
    [push] = receiver.delivered()
    assert push.browser == "near"
    assert push.message == {
        "type": "dispatch.offer",
        "dispatch_id": dispatch["id"],
        "kind": "fire",
        "description": "建物火災 (house fire)",
        "distance_m": pytest.approx(1000, abs=5),
        "respond_within_s": pytest.approx(300, abs=5),
    }
    assert push.urgency == "high"
    assert push.ttl is not None and 290 <= int(push.ttl) <= 300
    assert push.topic is not None and TOPIC.fullmatch(push.topic)
    assert no_phone.id != near.id


def test_the_resident_requester_is_pushed_when_a_volunteer_claims(
    push_server: LiveServer, receiver: PushReceiver
) -> None:
    asker, request = open_request(push_server)
    phone = receiver.browser("asker")
    registered = http.put(
        f"{push_server.url}/api/v1/subscriptions/{asker.id}/webpush",
        json=phone.subscription(),
        headers={"Authorization": f"Bearer {asker.token}"},
        timeout=30,
    )
    assert registered.status_code == 200, registered.text
    volunteer = make_volunteer(push_server)
    assert post(push_server, f"/requests/{request['id']}/claim", volunteer).status_code == 200

    def claimed() -> list[dict[str, Any]]:
        return [
            p.message
            for p in pushes_to(receiver, "asker")
            if p.message is not None and p.message.get("state") == "claimed"
        ]

    wait_for(lambda: len(claimed()) == 1)
    time.sleep(0.5)  # anything more would be a second copy
    # Only the claim: the requester is not told of the request they have just made.
    assert [p.message for p in pushes_to(receiver, "asker")] == [
        {"type": "aid.request", "request_id": request["id"], "state": "claimed"}
    ]
    assert pushes_to(receiver, "asker")[0].topic is not None
    assert receiver.problems() == []
    # The volunteer, who has no phone registered, is not pushed to; nor anyone else.
    assert {p.browser for p in receiver.delivered()} == {"asker"}


def test_a_busy_push_service_is_retried_and_a_gone_one_forgets_the_phone(
    push_server: LiveServer, receiver: PushReceiver
) -> None:
    responder: Responder = make_responder(push_server, km_north=0.5)
    register_phone(push_server, responder.headers, receiver.browser("busy"))

    # 503 once: the task runner tries again with backoff and the phone gets the message.
    receiver.answer(503)
    push_server.runtime.tasks.submit(
        NOTIFY, user_id=responder.id, subscription_id=None, payload={"n": 1}, topic="t"
    )
    wait_for(lambda: len(receiver.delivered("busy")) == 1)
    assert [r.status for r in receiver.requests] == [503, 201]
    assert receiver.delivered("busy")[0].message == {"n": 1}

    # 410: the push service says the phone is gone for good; we stop pushing to it.
    receiver.answer(410)
    make_dispatch(push_server, make_incident(push_server), needed=1)
    me = f"{push_server.url}/api/v1/webpush/me"
    wait_for(lambda: http.get(me, headers=responder.headers, timeout=30).status_code == 404)
    assert [r.status for r in receiver.requests] == [503, 201, 410]
    with push_server.runtime.db.session() as session:
        left = session.scalar(
            select(func.count())
            .select_from(PushSubscription)
            .where(PushSubscription.user_id == responder.id)
        )
    assert left == 0


def test_bad_push_subscriptions_of_a_user_are_refused_naming_the_field(
    push_server: LiveServer, receiver: PushReceiver
) -> None:
    headers = push_server.auth("media")  # any role may have a phone
    good = receiver.browser("media").subscription()
    url = f"{push_server.url}/api/v1/webpush/me"
    with push_server.client() as client:
        assert client.put(url, json=good).status_code == 401
        for case, change, field in BAD_PUSH_SUBSCRIPTIONS:
            body = {**good, **{k: v for k, v in change.items() if k != "keys"}}
            body["keys"] = {**good["keys"], **change.get("keys", {})}
            body["keys"] = {k: v for k, v in body["keys"].items() if v is not None}
            response = client.put(url, json=body, headers=headers)
            assert response.status_code == 422, (case, response.text)
            assert response.json()["error"]["field"] == field, (case, response.text)
        assert client.get(url, headers=headers).status_code == 404  # nothing stored

        # A good one is kept, replaced by the next, and removed (twice: idempotent).
        assert client.put(url, json=good, headers=headers).status_code == 200
        newer = receiver.browser("media-2").subscription()
        assert client.put(url, json=newer, headers=headers).status_code == 200
        assert client.get(url, headers=headers).json()["endpoint"] == newer["endpoint"]
        assert client.delete(url, headers=headers).status_code == 204
        assert client.delete(url, headers=headers).status_code == 204
        assert client.get(url, headers=headers).status_code == 404
