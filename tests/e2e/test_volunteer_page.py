"""The volunteer's page in a real browser: a resident's request, claimed, reveals the contact."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kizuna.auth import create_user
from tests.e2e.test_pages import assert_accessible
from tests.e2e.test_responder_page import TOKEN_KEY, expired_token
from tests.mutual_aid.test_mutual_aid import HOME, ask
from tests.support import CITY_A, PASSWORD, LiveServer, http


def test_volunteer_saves_profile_claims_a_request_and_sees_the_contact(
    browser: Any, web: LiveServer, artifacts: Path
) -> None:
    resident = web.subscribe([{"label": "home", "lon": HOME[0], "lat": HOME[1]}])
    asked = ask(web, resident.token, description="e2e: water to the 3rd floor")
    assert asked.status_code == 201, asked.text
    request_id = asked.json()["id"]

    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        page = context.new_page()
        page.goto(web.url + "/volunteer")
        page.select_option("#ui-language", "en")
        page.fill("#username", "volunteer")
        page.fill("#password", PASSWORD)
        page.click("#login")
        page.locator("#profile").wait_for(state="visible", timeout=10_000)

        page.get_by_label("Home longitude").fill(str(HOME[0] + 0.01))
        page.get_by_label("Home latitude").fill(str(HOME[1]))
        page.get_by_label("How far I can go (m)").fill("5000")
        page.get_by_role("button", name="Save profile").click()
        page.get_by_text("Saved.").wait_for(timeout=10_000)

        item = page.locator(f".aid-request[data-request='{request_id}']")
        item.wait_for(timeout=10_000)
        # Before the claim: a rounded place and no contact.
        assert "water to the 3rd floor" in item.inner_text()
        assert "roughly" in item.inner_text()
        assert "090-1234-5678" not in page.content()
        assert_accessible(page)

        item.get_by_role("button", name="I will help").click()
        mine = page.locator(f".aid-mine[data-request='{request_id}']")
        mine.locator(".contact", has_text="090-1234-5678").wait_for(timeout=10_000)
        assert f"{HOME[1]:.5f}, {HOME[0]:.5f}" in mine.locator(".place").inner_text()
        assert item.count() == 0

        mine.get_by_role("button", name="Start").click()
        mine.locator(".aid-state", has_text="in_progress").wait_for(timeout=10_000)
        page.screenshot(path=str(artifacts / "volunteer.png"), full_page=True)
        assert_accessible(page)
        mine.get_by_role("button", name="Done").click()
        mine.locator(".aid-state", has_text="completed").wait_for(timeout=10_000)

        seen = http.get(
            f"{web.url}/api/v1/aid/requests/{request_id}",
            headers={"Authorization": f"Bearer {resident.token}"},
            timeout=30,
        ).json()
        assert seen["state"] == "completed"
    finally:
        context.close()


def make_volunteer(server: LiveServer, username: str) -> None:
    """A volunteer of city A with a profile near HOME (5 km reach)."""
    with server.runtime.db.session() as session:
        create_user(session, server.runtime.settings, username, PASSWORD, "volunteer", [CITY_A])
    body = {"skills": [], "lon": HOME[0] + 0.01, "lat": HOME[1], "radius_m": 5000}
    saved = http.put(
        f"{server.url}/api/v1/aid/volunteers/me", json=body, headers=server.auth(username)
    )
    assert saved.status_code == 200, saved.text


def open_volunteer_page(browser: Any, server: LiveServer, username: str) -> tuple[Any, Any]:
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(server.url + "/volunteer")
    page.select_option("#ui-language", "en")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#login")
    page.locator("#connection.ok", has_text="Updated").wait_for(timeout=10_000)
    return context, page


def test_a_lost_connection_shows_and_recovers_without_a_reload(
    browser: Any, web: LiveServer, artifacts: Path
) -> None:
    make_volunteer(web, "e2e-vol-offline")
    context, page = open_volunteer_page(browser, web, "e2e-vol-offline")
    try:
        page.evaluate("window.kizunaSamePage = true")
        context.set_offline(True)
        lost = page.locator("#connection.lost", has_text="Offline")
        lost.wait_for(timeout=10_000)
        assert_accessible(page)
        page.screenshot(path=str(artifacts / "volunteer-offline.png"), full_page=True)

        # A request made meanwhile shows once the phone is back, well before the next poll.
        resident = web.subscribe([{"label": "home", "lon": HOME[0], "lat": HOME[1]}])
        asked = ask(web, resident.token, description="e2e: asked while the volunteer was offline")
        assert asked.status_code == 201, asked.text
        item = page.locator(f".aid-request[data-request='{asked.json()['id']}']")
        context.set_offline(False)
        page.locator("#connection.ok", has_text="Updated").wait_for(timeout=5_000)
        item.wait_for(timeout=5_000)

        # The server stops answering (the browser is online, the requests fail): the page
        # says so and tries again by itself, sooner than its 15 s poll. Playwright's routing
        # stands in for an unreachable server, which the shared test server cannot be.
        page.route("**/api/v1/aid/requests/nearby", lambda route: route.abort())
        page.get_by_role("button", name="Reload the current state").click()
        page.locator("#connection.lost", has_text="Reconnecting in 1 s").wait_for(timeout=5_000)
        page.locator("#connection.lost", has_text="Reconnecting in 2 s").wait_for(timeout=5_000)
        page.unroute("**/api/v1/aid/requests/nearby")
        page.locator("#connection.ok", has_text="Updated").wait_for(timeout=10_000)
        assert page.evaluate("window.kizunaSamePage") is True  # no reload
    finally:
        context.close()


def test_an_expired_session_goes_to_the_login_form(browser: Any, web: LiveServer) -> None:
    make_volunteer(web, "e2e-vol-expired")
    context, page = open_volunteer_page(browser, web, "e2e-vol-expired")
    try:
        # The session expires while the page is open: the next call sends to the login form.
        page.evaluate(
            "([key, token]) => sessionStorage.setItem(key, token)",
            [TOKEN_KEY, expired_token(web, "e2e-vol-expired")],
        )
        page.get_by_role("button", name="Reload the current state").click()
        page.locator("#login-form").wait_for(state="visible", timeout=10_000)
        page.locator("#expired", has_text="session expired").wait_for(timeout=10_000)
        assert page.locator("#work").is_hidden()

        # Opened again with an expired token: straight to the login form.
        page.evaluate(
            "([key, token]) => sessionStorage.setItem(key, token)",
            [TOKEN_KEY, expired_token(web, "e2e-vol-expired")],
        )
        page.reload()
        page.locator("#expired", has_text="session expired").wait_for(timeout=10_000)
        assert page.locator("#login-form").is_visible()
        assert page.locator("#work").is_hidden()
        assert page.evaluate(f"sessionStorage.getItem('{TOKEN_KEY}')") is None
    finally:
        context.close()
