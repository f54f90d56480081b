"""Media register webhooks; every issued alert reaches them signed, once, retried, logged.

Delivery itself (claims, unique rows, retries) runs on SQLite and PostgreSQL; checks at the
API's edge and choices made in Python run on SQLite only, to keep the module quick.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from integrations.webhooks import delivery
from integrations.webhooks.delivery import RetryPolicy
from integrations.webhooks.models import WebhookDelivery
from tests.integrations.webhooks.receiver import Receiver, Script
from tests.support import CITY_A, CITY_B, LiveServer, http, make_settings, start_server, wait_for

SECRET = "media-shared-secret-0123456789"


@pytest.fixture
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> RetryPolicy:
    """Retries after tens of milliseconds instead of seconds, so tests stay fast."""
    policy = RetryPolicy(max_attempts=4, base_s=0.05, max_delay_s=0.2, retry_after_max_s=0.3)
    monkeypatch.setattr(delivery, "RETRY_POLICY", policy)
    return policy


def sqlite_live_server(tmp_path: Path, **settings: Any) -> Iterator[LiveServer]:
    live = start_server(make_settings(tmp_path, **settings))
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture
def sqlite_server(tmp_path: Path) -> Iterator[LiveServer]:
    """A server on SQLite only, for checks at the API's edge that no database changes."""
    yield from sqlite_live_server(tmp_path)


def register(server: LiveServer, url: str, user: str = "media", **fields: Any) -> dict[str, Any]:
    response = http.post(
        f"{server.url}/api/v1/webhooks",
        json={"url": url, "secret": SECRET, "format": "json", **fields},
        headers=server.auth(user),
        timeout=30,
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def deliveries(server: LiveServer, webhook_id: str, user: str = "media") -> list[dict[str, Any]]:
    response = http.get(
        f"{server.url}/api/v1/webhooks/{webhook_id}/deliveries",
        headers=server.auth(user),
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return list(response.json())


def settled(server: LiveServer, webhook_id: str) -> list[dict[str, Any]]:
    """The delivery log once every delivery has succeeded or failed."""
    found: list[dict[str, Any]] = []

    def done() -> bool:
        found[:] = deliveries(server, webhook_id)
        return bool(found) and all(d["state"] in ("succeeded", "failed") for d in found)

    wait_for(done, timeout=20, interval=0.1)
    return found


def test_an_issued_alert_arrives_once_signed_with_the_whole_alert(server: LiveServer) -> None:
    with Receiver(SECRET) as receiver:
        webhook = register(server, receiver.url)
        issued = server.draft_and_issue()
        wait_for(lambda: receiver.count() >= 1)
        time.sleep(1.0)  # anything doubled would arrive within this
        assert receiver.count() == 1
        post = receiver.received[0]
        assert post.verified, "the receiver could not verify our signature"
        assert post.headers["content-type"] == "application/json"
        assert post.headers["x-kizuna-event"] == "alert.issued"
        event = json.loads(post.body)
        assert event["event"] == "alert.issued"
        assert event["msg_type"] == "Alert"
        assert event["delivery_id"] == post.headers["x-kizuna-delivery"]
        alert = event["alert"]
        assert alert["alert_id"] == issued["id"]
        assert alert["identifier"] == issued["identifier"]
        assert alert["municipality_code"] == CITY_A
        assert alert["content"]["evacuation_level"] == 4
        assert {i["language"]: i["headline"] for i in alert["content"]["info"]} == {
            "ja": "避難指示",
            "en": "Evacuation order",
        }
        assert alert["area_geometry"]["type"] in ("Polygon", "MultiPolygon")

        [logged] = settled(server, webhook["id"])
        assert logged["state"] == "succeeded"
        assert logged["delivery_id"] == post.headers["x-kizuna-delivery"]
        assert [a["status_code"] for a in logged["attempts"]] == [200]

        # A redelivered task (a worker crash, a duplicate message) posts nothing more.
        again = delivery.deliver(server.runtime, webhook["id"], logged["alert_version_id"])
        assert again is None
        assert receiver.count() == 1


def test_a_receiver_failing_twice_gets_the_alert_on_the_third_attempt(
    server: LiveServer, quick_retries: RetryPolicy
) -> None:
    with Receiver(SECRET, Script([500, 500])) as receiver:
        webhook = register(server, receiver.url)
        server.draft_and_issue()
        [logged] = settled(server, webhook["id"])
        assert logged["state"] == "succeeded"
        assert [a["status_code"] for a in logged["attempts"]] == [500, 500, 200]
        assert [a["number"] for a in logged["attempts"]] == [1, 2, 3]
        assert all(a["retry_in_s"] > 0 for a in logged["attempts"][:2])
        assert logged["attempts"][0]["error"].startswith("HTTP 500")
        assert receiver.count() == 3
        # The same delivery id each time, so the receiver can drop repeats.
        assert len({r.headers["x-kizuna-delivery"] for r in receiver.received}) == 1
        assert all(r.verified for r in receiver.received)


def test_a_client_error_is_final_and_a_receiver_that_keeps_failing_is_given_up(
    server: LiveServer, quick_retries: RetryPolicy
) -> None:
    with (
        Receiver(SECRET, Script([410])) as gone,
        Receiver(SECRET, Script([503] * 10, {"Retry-After": "0"})) as down,
    ):
        gone_hook = register(server, gone.url)
        down_hook = register(server, down.url)
        server.draft_and_issue()
        [refused] = settled(server, gone_hook["id"])
        [given_up] = settled(server, down_hook["id"])
        time.sleep(0.5)  # no retry may follow
        assert refused["state"] == "failed"
        assert refused["last_status_code"] == 410
        assert [a["status_code"] for a in refused["attempts"]] == [410]
        assert gone.count() == 1
        assert given_up["state"] == "failed"
        assert [a["status_code"] for a in given_up["attempts"]] == [503] * 4
        assert given_up["attempts"][-1]["retry_in_s"] is None
        assert "gave up after 4 attempts" in given_up["last_error"]
        assert down.count() == quick_retries.max_attempts


def test_a_generated_secret_is_shown_once_and_signs_the_deliveries(
    sqlite_server: LiveServer,
) -> None:
    server = sqlite_server
    with Receiver() as receiver, server.client() as client:
        created = client.post(
            "/api/v1/webhooks", json={"url": receiver.url}, headers=server.auth("media")
        )
        assert created.status_code == 201, created.text
        secret = created.json()["secret"]
        assert len(secret) >= 32
        listed = client.get("/api/v1/webhooks", headers=server.auth("media")).json()
        assert [w["id"] for w in listed] == [created.json()["id"]]
        assert "secret" not in listed[0]
        assert secret not in json.dumps(listed)
        receiver.secret = secret
        server.draft_and_issue()
        wait_for(lambda: receiver.count() >= 1)
        assert receiver.received[0].verified


def test_municipality_filters_choose_which_alerts_an_endpoint_gets(
    sqlite_server: LiveServer,
) -> None:
    server = sqlite_server
    with Receiver(SECRET) as city_a, Receiver(SECRET) as city_b:
        register(server, city_a.url, municipality_codes=[CITY_A])
        register(server, city_b.url, municipality_codes=[CITY_B[:5]])  # 5 digits work too
        server.draft_and_issue()  # the west half of city A
        wait_for(lambda: city_a.count() >= 1)
        time.sleep(0.5)
        assert city_b.count() == 0


def test_a_deleted_webhook_gets_no_more_alerts(
    sqlite_server: LiveServer,
) -> None:
    server = sqlite_server
    with Receiver(SECRET) as receiver, server.client() as client:
        webhook = register(server, receiver.url)
        deleted = client.delete(f"/api/v1/webhooks/{webhook['id']}", headers=server.auth("media"))
        assert deleted.status_code == 204
        assert client.get("/api/v1/webhooks", headers=server.auth("media")).json() == []
        server.draft_and_issue()
        time.sleep(1.0)
        assert receiver.count() == 0
        gone = client.get(
            f"/api/v1/webhooks/{webhook['id']}/deliveries", headers=server.auth("media")
        )
        assert gone.status_code == 404


def test_cap_webhooks_get_the_alert_as_cap_xml(sqlite_server: LiveServer) -> None:
    server = sqlite_server
    with Receiver(SECRET) as receiver:
        register(server, receiver.url, format="cap")
        issued = server.draft_and_issue()
        wait_for(lambda: receiver.count() >= 1)
        post = receiver.received[0]
        assert post.verified
        assert post.headers["content-type"] == "application/cap+xml"
        assert b"<identifier>" + issued["identifier"].encode() + b"</identifier>" in post.body


def test_only_the_owner_or_an_admin_sees_or_deletes_a_webhook(sqlite_server: LiveServer) -> None:
    server = sqlite_server
    with server.client() as client:
        mine = register(server, "http://127.0.0.1:9/media")
        admins = register(server, "http://127.0.0.1:9/admin", user="admin")
        listed = client.get("/api/v1/webhooks", headers=server.auth("media")).json()
        assert [w["id"] for w in listed] == [mine["id"]]
        everyone = client.get("/api/v1/webhooks", headers=server.auth("admin")).json()
        assert {w["id"]: w["owner"] for w in everyone} == {
            mine["id"]: "media",
            admins["id"]: "admin",
        }
        for method, path in [
            ("GET", f"/api/v1/webhooks/{admins['id']}/deliveries"),
            ("DELETE", f"/api/v1/webhooks/{admins['id']}"),
        ]:
            answer = client.request(method, path, headers=server.auth("media"))
            assert answer.status_code == 404, answer.text
        assert (
            client.get(
                f"/api/v1/webhooks/{mine['id']}/deliveries", headers=server.auth("admin")
            ).status_code
            == 200
        )
        for role in ("officer-a", "responder"):
            refused = client.post(
                "/api/v1/webhooks",
                json={"url": "http://127.0.0.1:9/x", "secret": SECRET},
                headers=server.auth(role),
            )
            assert refused.status_code == 403
            assert refused.json()["error"]["code"] == "forbidden"
            assert client.get("/api/v1/webhooks", headers=server.auth(role)).status_code == 403
        assert client.get("/api/v1/webhooks").status_code == 401


def test_bad_registrations_are_refused_naming_the_field_and_store_nothing(
    sqlite_server: LiveServer,
) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"url": "http://127.0.0.1:9/x", "secret": "too-short"}, "secret"),
        ({"url": "http://127.0.0.1:9/x", "format": "xml"}, "format"),
        ({"url": "ftp://127.0.0.1/x"}, "url"),
        ({"url": "http://127.0.0.1:9/x", "municipality_codes": ["12"]}, "municipality_codes[0]"),
        (
            {"url": "http://127.0.0.1:9/x", "municipality_codes": ["011002"]},
            "municipality_codes[0]",
        ),
        ({"secret": SECRET}, "url"),
        ({"url": "http://127.0.0.1:9/x", "colour": "red"}, "colour"),
    ]
    with sqlite_server.client() as client:
        for body, field in cases:
            refused = client.post(
                "/api/v1/webhooks", json=body, headers=sqlite_server.auth("media")
            )
            assert refused.status_code == 422, refused.text
            assert refused.json()["error"]["field"] == field, (body, refused.json())
        listed = client.get("/api/v1/webhooks", headers=sqlite_server.auth("media"))
        assert listed.json() == []


@pytest.fixture
def production_server(tmp_path: Path) -> Iterator[LiveServer]:
    """A server with production settings."""
    yield from sqlite_live_server(tmp_path, environment="production")


def test_production_refuses_webhooks_into_private_networks(
    production_server: LiveServer,
) -> None:
    with production_server.client() as client:
        for url, reason in [
            ("http://127.0.0.1/hook", "loopback"),
            ("http://10.0.0.1/", "private"),
            ("http://localhost:8080/hook", "loopback"),
            ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ]:
            refused = client.post(
                "/api/v1/webhooks",
                json={"url": url, "secret": SECRET},
                headers=production_server.auth("media"),
            )
            assert refused.status_code == 422, refused.text
            error = refused.json()["error"]
            assert error["field"] == "url"
            assert reason in error["message"], (url, error)
        listed = client.get("/api/v1/webhooks", headers=production_server.auth("media"))
        assert listed.json() == []


def test_a_retry_whose_timer_was_lost_is_resumed(
    sqlite_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = sqlite_server
    # The first retry is due in ~15 minutes: as good as lost for this test.
    policy = RetryPolicy(base_s=900, max_delay_s=900)
    monkeypatch.setattr(delivery, "RETRY_POLICY", policy)
    with Receiver(SECRET, Script([503])) as receiver:
        webhook = register(server, receiver.url)
        server.draft_and_issue()
        wait_for(lambda: any(d["next_attempt_at"] for d in deliveries(server, webhook["id"])))
        assert delivery.resume(server.runtime) == 0  # not overdue yet
        # A restart later, the retry is overdue and no timer remembers it.
        with server.runtime.db.session() as session:
            session.execute(
                update(WebhookDelivery).values(
                    next_attempt_at=datetime.now(UTC) - timedelta(minutes=5)
                )
            )
        assert delivery.resume(server.runtime) == 1
        [logged] = settled(server, webhook["id"])
        assert logged["state"] == "succeeded"
        assert [a["status_code"] for a in logged["attempts"]] == [503, 200]
        assert receiver.count() == 2
