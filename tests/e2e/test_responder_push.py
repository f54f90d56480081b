"""The responder turns on notifications in a real browser; an offer then reaches the phone with
the page closed, and the page's service worker shows it."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete

from integrations.webpush.models import PushSubscription
from tests.dispatch.test_dispatch import make_dispatch, make_incident, make_responder
from tests.e2e.test_pages import assert_accessible
from tests.integrations.webpush.receiver import PushReceiver
from tests.support import PASSWORD, LiveServer, http, make_settings, start_server, wait_for

# Headless Chromium here has no push service it can reach (Chrome's is Google's FCM), so the
# browser's own `PushManager.subscribe` can only fail. The test replaces that one method with
# one answering what a push service would: an endpoint at the local push receiver that the
# integration tests use, and the public key and auth secret of a key pair generated in Python,
# so the receiver decrypts what our server sends exactly as the phone would. Everything else is
# real: the page, the service worker registration, the VAPID key from the API, PUT/GET/DELETE
# /api/v1/webpush/me, the dispatch, the `webpush.notify` task, the encryption and the signature.
FAKE_SUBSCRIBE = """
(subscription) => {
  PushManager.prototype.subscribe = async function (options) {
    const key = new Uint8Array(options.applicationServerKey);
    window.kizunaSubscribedWith = {
      userVisibleOnly: options.userVisibleOnly,
      applicationServerKey: btoa(String.fromCharCode(...key)),
    };
    return {
      endpoint: subscription.endpoint,
      expirationTime: null,
      options,
      toJSON: () => subscription,
      unsubscribe: async () => true,
    };
  };
}
"""


@pytest.fixture(scope="module")
def push_web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A live server allowed to push to a push service on loopback http (the receiver)."""
    settings = make_settings(tmp_path_factory.mktemp("push-web"), webpush_allow_loopback_http=True)
    server = start_server(settings)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def receiver(push_web: LiveServer) -> Iterator[PushReceiver]:
    """A fresh local push service that checks the server's VAPID key and decrypts."""
    response = http.get(f"{push_web.url}/api/v1/webpush/public-key", timeout=30)
    assert response.status_code == 200, response.text
    service = PushReceiver(response.json()["public_key"]).start()
    try:
        yield service
    finally:
        service.stop()
        # Phones of this test point at a receiver that is gone: nothing more to push to them.
        with push_web.runtime.db.session() as session:
            session.execute(delete(PushSubscription))


def new_phone(browser: Any, subscription: dict[str, Any]) -> Any:
    """A phone-sized context with notifications allowed and `subscribe` answering `subscription`."""
    context = browser.new_context(viewport={"width": 390, "height": 844})
    context.grant_permissions(["notifications"])
    context.add_init_script(f"({FAKE_SUBSCRIBE})({json.dumps(subscription)})")
    return context


def log_in(page: Any, url: str, username: str) -> None:
    page.goto(url + "/responder")
    page.select_option("#ui-language", "en")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#login")
    page.locator("#connection", has_text="Connected").wait_for(timeout=10_000)


def b64url_to_b64(text: str) -> str:
    return base64.b64encode(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))).decode()


def deliver_push(context: Any, page: Any, origin: str, data: str) -> None:
    """Deliver `data` to the page's service worker the way DevTools' "Push" button does."""
    cdp = context.new_cdp_session(page)
    registrations: list[dict[str, Any]] = []
    cdp.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda event: registrations.extend(event["registrations"]),
    )
    cdp.send("ServiceWorker.enable")
    # Playwright hands over CDP events only while it runs: wait with it, not with time.sleep.
    for _ in range(200):
        if any(r["scopeURL"] == origin + "/" and not r["isDeleted"] for r in registrations):
            break
        page.wait_for_timeout(50)
    registration = next(
        (r for r in registrations if r["scopeURL"] == origin + "/" and not r["isDeleted"]), None
    )
    assert registration is not None, registrations
    cdp.send(
        "ServiceWorker.deliverPushMessage",
        {"origin": origin, "registrationId": registration["registrationId"], "data": data},
    )


def test_offer_reaches_the_closed_page_by_push_and_the_service_worker_shows_it(
    browser: Any, push_web: LiveServer, receiver: PushReceiver, artifacts: Path
) -> None:
    responder = make_responder(push_web, 0.8, name="e2e-push")
    phone = receiver.browser("e2e-push")
    public_key = http.get(f"{push_web.url}/api/v1/webpush/public-key", timeout=30).json()
    context = new_phone(browser, phone.subscription())
    try:
        page = context.new_page()
        log_in(page, push_web.url, responder.username)
        status = page.locator("#push-status")
        status.filter(has_text="Notifications are off.").wait_for(timeout=10_000)

        page.get_by_role("button", name="Notify me").click()
        status.filter(has_text="Notifications are on").wait_for(timeout=10_000)
        # The page subscribed with the server's VAPID key, for visible notifications only.
        assert page.evaluate("window.kizunaSubscribedWith") == {
            "userVisibleOnly": True,
            "applicationServerKey": b64url_to_b64(public_key["public_key"]),
        }
        mine = http.get(f"{push_web.url}/api/v1/webpush/me", headers=responder.headers)
        assert mine.status_code == 200, mine.text
        assert mine.json()["endpoint"] == phone.endpoint
        assert page.get_by_role("button", name="Turn off notifications").is_visible()
        assert_accessible(page)
        page.screenshot(path=str(artifacts / "responder-push-on.png"), full_page=True)

        # A reload asks the server, and shows it is still on.
        page.reload()
        page.locator("#connection", has_text="Connected").wait_for(timeout=10_000)
        status.filter(has_text="Notifications are on").wait_for(timeout=10_000)
        page.close()

        # The page is closed: the officer dispatches, and the offer goes by Web Push.
        incident = make_incident(push_web)
        dispatch = make_dispatch(push_web, incident)
        wait_for(lambda: bool(receiver.delivered("e2e-push")), timeout=20)
        assert receiver.problems() == []
        message = receiver.delivered("e2e-push")[0].message
        assert message is not None
        assert message["type"] == "dispatch.offer"
        assert message["dispatch_id"] == dispatch["id"]
        assert "house fire" in message["description"]

        # What the phone decrypted, handed to the page's own service worker: it shows it.
        page = context.new_page()
        page.goto(push_web.url + "/responder")
        deliver_push(context, page, push_web.url, json.dumps(message, ensure_ascii=False))
        page.wait_for_function(
            """async () => {
                const registration = await navigator.serviceWorker.getRegistration("/");
                return (await registration.getNotifications()).length > 0;
            }""",
            timeout=10_000,
        )
        shown = page.evaluate(
            """async () => {
                const registration = await navigator.serviceWorker.getRegistration("/");
                return (await registration.getNotifications()).map(
                    (n) => ({title: n.title, body: n.body, tag: n.tag, data: n.data}));
            }"""
        )
        assert len(shown) == 1, shown
        assert shown[0]["title"].startswith("出動要請")  # Japanese first
        assert "建物火災 (house fire)" in shown[0]["title"]
        assert "0.8 km" in shown[0]["body"]
        assert shown[0]["tag"] == f"dispatch:{dispatch['id']}"
        assert shown[0]["data"] == {"url": "/responder"}  # a tap opens the responder page
    finally:
        context.close()


def test_turning_push_off_forgets_the_browser(
    browser: Any, push_web: LiveServer, receiver: PushReceiver
) -> None:
    responder = make_responder(push_web, 0.6, name="e2e-push-off")
    phone = receiver.browser("e2e-push-off")
    context = new_phone(browser, phone.subscription())
    try:
        page = context.new_page()
        log_in(page, push_web.url, responder.username)
        page.get_by_role("button", name="Notify me").click()
        page.locator("#push-status", has_text="Notifications are on").wait_for(timeout=10_000)

        page.get_by_role("button", name="Turn off notifications").click()
        page.locator("#push-status", has_text="Notifications are off.").wait_for(timeout=10_000)
        mine = http.get(f"{push_web.url}/api/v1/webpush/me", headers=responder.headers)
        assert mine.status_code == 404, mine.text
        assert page.get_by_role("button", name="Notify me").is_visible()

        make_dispatch(push_web, make_incident(push_web))
        # The offer is on the open page, and nothing went to the phone.
        page.locator(".offer").first.wait_for(timeout=10_000)
        assert receiver.requests == []
    finally:
        context.close()


def test_a_refused_subscription_shows_the_api_error_beside_the_button(
    browser: Any, push_web: LiveServer, artifacts: Path
) -> None:
    responder = make_responder(push_web, 0.7, name="e2e-push-bad")
    # A push service the server must not post to: plain http to a public host.
    bad = {
        "endpoint": "http://push.example.com/send/1",
        "expirationTime": None,
        "keys": {"p256dh": "BAAA", "auth": "AAAA"},
    }
    context = new_phone(browser, bad)
    try:
        page = context.new_page()
        log_in(page, push_web.url, responder.username)
        page.get_by_role("button", name="Notify me").click()
        page.locator("#push-status", has_text="could not be set up").wait_for(timeout=10_000)
        error = page.locator("#push-buttons .field-error")
        assert "https" in error.inner_text()
        assert page.get_by_role("button", name="Notify me").is_enabled()
        mine = http.get(f"{push_web.url}/api/v1/webpush/me", headers=responder.headers)
        assert mine.status_code == 404, mine.text
        assert_accessible(page)
        page.screenshot(path=str(artifacts / "responder-push-failed.png"), full_page=True)
    finally:
        context.close()


def test_the_service_worker_still_shows_resident_alerts_and_aid_steps(
    browser: Any, push_web: LiveServer
) -> None:
    context = browser.new_context()
    context.grant_permissions(["notifications"])
    try:
        page = context.new_page()
        page.goto(push_web.url + "/")
        page.evaluate(
            """async () => {
                await navigator.serviceWorker.register("/sw.js", {scope: "/"});
                await navigator.serviceWorker.ready;
            }"""
        )
        # The shape alerts.service.render_message gives a resident's push.
        alert = {
            "type": "alert",
            "identifier": "urn:kizuna:e2e-alert",
            "language": "ja",
            "severity": "Severe",
            "headline": "避難指示",
            "instruction": "直ちに避難してください",
        }
        deliver_push(context, page, push_web.url, json.dumps(alert, ensure_ascii=False))
        aid = {"type": "aid.request", "request_id": "r-1", "state": "claimed"}
        deliver_push(context, page, push_web.url, json.dumps(aid))
        page.wait_for_function(
            """async () => {
                const registration = await navigator.serviceWorker.getRegistration("/");
                const tags = (await registration.getNotifications()).map((n) => n.tag);
                return tags.includes("urn:kizuna:e2e-alert") && tags.includes("aid:r-1");
            }""",
            timeout=10_000,
        )
        shown = page.evaluate(
            """async () => {
                const registration = await navigator.serviceWorker.getRegistration("/");
                return (await registration.getNotifications()).map(
                    (n) => ({title: n.title, body: n.body, tag: n.tag, data: n.data}));
            }"""
        )
        by_tag = {n["tag"]: n for n in shown}
        assert by_tag["urn:kizuna:e2e-alert"] == {
            "title": "避難指示",
            "body": "直ちに避難してください",
            "tag": "urn:kizuna:e2e-alert",
            "data": {"url": "/"},
        }
        assert by_tag["aid:r-1"]["title"].startswith("助け合い")
        assert "claimed" in by_tag["aid:r-1"]["body"]
    finally:
        context.close()
