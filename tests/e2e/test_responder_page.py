"""The responder's page in a real browser: a live offer, accepted, shows on the officer's board."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tests.dispatch.test_dispatch import make_dispatch, make_incident, make_responder
from tests.e2e.test_pages import assert_accessible
from tests.support import PASSWORD, LiveServer


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

        board = httpx.get(
            f"{web.url}/api/v1/incidents/{incident}", headers=web.auth("officer-a"), timeout=30
        ).json()
        slots = board["dispatches"][0]["slots"]
        assert [(s["responder"]["username"], s["eta_min"]) for s in slots] == [
            (responder.username, 7)
        ]

        assignment.get_by_role("button", name="En route").click()
        assignment.locator(".assignment-status", has_text="En route").wait_for(timeout=10_000)
        board = httpx.get(
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

        cancelled = httpx.post(
            f"{web.url}/api/v1/dispatches/{dispatch['id']}/cancel",
            headers=web.auth("officer-a"),
            timeout=30,
        )
        assert cancelled.status_code == 200, cancelled.text
        card.wait_for(state="detached", timeout=10_000)
        page.get_by_text("No requests right now.").wait_for(timeout=10_000)
    finally:
        context.close()
