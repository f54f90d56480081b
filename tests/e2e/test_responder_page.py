"""The responder's page in a real browser: a live offer, accepted, shows on the officer's board."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import jwt
from sqlalchemy import select

from kizuna.auth import JWT_ALGORITHM
from kizuna.db import utcnow
from kizuna.models import User
from tests.dispatch.test_dispatch import make_dispatch, make_incident, make_responder
from tests.e2e.test_pages import assert_accessible
from tests.support import PASSWORD, LiveServer, http

TOKEN_KEY = "kizuna.token"  # where the staff pages keep the bearer token (sessionStorage)


def expired_token(server: LiveServer, username: str) -> str:
    """A bearer token the server signed for `username` an hour ago, expired a minute ago."""
    with server.runtime.db.session() as session:
        user = session.scalars(select(User).where(User.username == username)).one()
        claims: dict[str, Any] = {
            "sub": user.id,
            "role": user.role,
            "mun": user.municipality_codes,
        }
    now = utcnow()
    claims |= {
        "iat": int((now - timedelta(hours=1)).timestamp()),
        "exp": int((now - timedelta(minutes=1)).timestamp()),
        "typ": "access",
    }
    key = server.runtime.settings.resolved_secret_key()
    return jwt.encode(claims, key, algorithm=JWT_ALGORITHM)


def open_responder_page(browser: Any, server: LiveServer, username: str) -> tuple[Any, Any]:
    """A phone-sized context with the responder logged in and connected."""
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(server.url + "/responder")
    page.select_option("#ui-language", "en")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#login")
    page.locator("#connection", has_text="Connected").wait_for(timeout=10_000)
    return context, page


def test_offer_arrives_live_is_accepted_and_shows_on_the_board(
    browser: Any, web: LiveServer, artifacts: Path
) -> None:
    responder = make_responder(web, 0.5, name="e2e-responder")
    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        page = context.new_page()
        page.goto(web.url + "/responder")
        page.select_option("#ui-language", "en")
        page.fill("#username", responder.username)
        page.fill("#password", PASSWORD)
        page.click("#login")
        page.locator("#connection", has_text="Connected").wait_for(timeout=10_000)
        page.get_by_text("No requests right now.").wait_for(timeout=10_000)

        # The officer dispatches while the page is open: the offer comes over the WebSocket.
        incident = make_incident(web)
        dispatch = make_dispatch(web, incident)
        card = page.locator(f".offer[data-dispatch='{dispatch['id']}']")
        card.wait_for(timeout=10_000)
        assert "house fire" in card.inner_text()
        assert "0.5 km away" in card.inner_text()
        # The map marks the responder's place and the incident.
        assert page.locator("#map path.leaflet-interactive").count() == 2
        assert_accessible(page)
        page.screenshot(path=str(artifacts / "responder-offer.png"), full_page=True)

        card.get_by_label("Arrival in (minutes)").fill("7")
        card.get_by_role("button", name="Accept").click()
        assignment = page.locator(f".assignment[data-dispatch='{dispatch['id']}']")
        assignment.locator(".assignment-status", has_text="Accepted").wait_for(timeout=10_000)
        assert card.count() == 0

        board = http.get(
            f"{web.url}/api/v1/incidents/{incident}", headers=web.auth("officer-a"), timeout=30
        ).json()
        slots = board["dispatches"][0]["slots"]
        assert [(s["responder"]["username"], s["eta_min"]) for s in slots] == [
            (responder.username, 7)
        ]

        assignment.get_by_role("button", name="En route").click()
        assignment.locator(".assignment-status", has_text="En route").wait_for(timeout=10_000)
        board = http.get(
            f"{web.url}/api/v1/incidents/{incident}", headers=web.auth("officer-a"), timeout=30
        ).json()
        assert board["dispatches"][0]["slots"][0]["status"] == "en_route"
        assert_accessible(page)
        page.screenshot(path=str(artifacts / "responder-accepted.png"), full_page=True)
    finally:
        context.close()


def test_a_withdrawn_offer_disappears_live(browser: Any, web: LiveServer) -> None:
    responder = make_responder(web, 0.4, name="e2e-withdrawn")
    incident = make_incident(web)
    dispatch = make_dispatch(web, incident)
    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        page = context.new_page()
        page.goto(web.url + "/responder")
        page.select_option("#ui-language", "en")
        page.fill("#username", responder.username)
        page.fill("#password", PASSWORD)
        page.click("#login")
        # Made before logging in: the offer is there from the start.
        card = page.locator(f".offer[data-dispatch='{dispatch['id']}']")
        card.wait_for(timeout=10_000)
        page.locator("#connection", has_text="Connected").wait_for(timeout=10_000)

        cancelled = http.post(
            f"{web.url}/api/v1/dispatches/{dispatch['id']}/cancel",
            headers=web.auth("officer-a"),
            timeout=30,
        )
        assert cancelled.status_code == 200, cancelled.text
        card.wait_for(state="detached", timeout=10_000)
        page.get_by_text("No requests right now.").wait_for(timeout=10_000)
    finally:
        context.close()


def test_a_lost_connection_shows_and_recovers_without_a_reload(
    browser: Any, web: LiveServer, artifacts: Path
) -> None:
    responder = make_responder(web, 0.3, name="e2e-offline")
    context, page = open_responder_page(browser, web, responder.username)
    try:
        page.evaluate("window.kizunaSamePage = true")
        context.set_offline(True)
        lost = page.locator("#connection.lost", has_text="Offline")
        lost.wait_for(timeout=10_000)
        assert_accessible(page)
        page.screenshot(path=str(artifacts / "responder-offline.png"), full_page=True)

        # An offer made while the phone is offline is not lost: it is there once back online.
        dispatch = make_dispatch(web, make_incident(web))
        card = page.locator(f".offer[data-dispatch='{dispatch['id']}']")
        page.wait_for_timeout(500)
        assert card.count() == 0
        assert lost.is_visible()

        context.set_offline(False)
        page.locator("#connection.ok", has_text="Connected").wait_for(timeout=10_000)
        card.wait_for(timeout=10_000)
        assert page.evaluate("window.kizunaSamePage") is True  # no reload
    finally:
        context.close()


def test_an_expired_session_goes_to_the_login_form(browser: Any, web: LiveServer) -> None:
    responder = make_responder(web, 0.2, name="e2e-expired")
    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        # Opened with a token that expired meanwhile: the login form, saying why.
        page = context.new_page()
        page.goto(web.url + "/responder")
        page.select_option("#ui-language", "en")
        # Started without a token (the login form is shown): only then put the expired one in,
        # or the first load would find it, be refused and remove it before the reload.
        page.locator("#login-form").wait_for(state="visible", timeout=10_000)
        page.evaluate(
            "([key, token]) => sessionStorage.setItem(key, token)",
            [TOKEN_KEY, expired_token(web, responder.username)],
        )
        page.reload()
        page.locator("#login-form").wait_for(state="visible", timeout=10_000)
        page.locator("#expired", has_text="session expired").wait_for(timeout=10_000)
        assert page.locator("#work").is_hidden()
        assert page.evaluate(f"sessionStorage.getItem('{TOKEN_KEY}')") is None

        # Logged in again; the session expires while the page is open: on reconnecting, the
        # server refuses the token and the page asks to log in instead of retrying forever.
        page.fill("#username", responder.username)
        page.fill("#password", PASSWORD)
        page.click("#login")
        page.locator("#connection", has_text="Connected").wait_for(timeout=10_000)
        # The page's last start-up call (is push on?) is answered before the token goes bad.
        page.locator("#push-status", has_text="Notifications are off.").wait_for(timeout=10_000)
        assert page.locator("#expired").is_hidden()
        page.evaluate(
            "([key, token]) => sessionStorage.setItem(key, token)",
            [TOKEN_KEY, expired_token(web, responder.username)],
        )
        context.set_offline(True)
        page.locator("#connection.lost").wait_for(timeout=10_000)
        context.set_offline(False)
        page.locator("#login-form").wait_for(state="visible", timeout=10_000)
        page.locator("#expired", has_text="session expired").wait_for(timeout=10_000)
        assert page.locator("#work").is_hidden()
    finally:
        context.close()
