"""The officer console beyond the basic polygon: circles, delivery by channel, versions, outages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.e2e.test_drills import register_resident_for
from tests.e2e.test_pages import assert_accessible, log_in
from tests.support import LiveServer


def place_circle_in_west_half(page: Any) -> None:
    """Geoman's circle tool: click the centre, then click again at the rim."""
    city = page.locator(".leaflet-overlay-pane path").first.bounding_box()
    page.click(".leaflet-pm-icon-circle")
    centre = (city["x"] + 0.2 * city["width"], city["y"] + 0.5 * city["height"])
    page.mouse.click(*centre)
    page.wait_for_timeout(150)
    page.mouse.move(centre[0] + 0.1 * city["width"], centre[1], steps=5)
    page.mouse.click(centre[0] + 0.1 * city["width"], centre[1])


def test_a_circle_exercise_reaches_the_resident_marked_and_is_followed_by_channel(
    browser: Any, web: LiveServer, artifacts: Path
) -> None:
    resident = browser.new_context(viewport={"width": 390, "height": 844})
    officer = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        phone = resident.new_page()
        # Exercises reach only residents who opted in to drills.
        register_resident_for(phone, web.url, drills=True)

        console = officer.new_page()
        log_in(console, web.url)
        console.check("#exercise")
        console.locator("#exercise-banner").wait_for()
        place_circle_in_west_half(console)
        console.locator("#area-summary", has_text="○").wait_for(timeout=10_000)
        console.locator("#preview[data-recipients='1']").wait_for(timeout=10_000)
        console.click("#issue")
        console.locator("#issued-note", has_text="Issued (version 1)").wait_for(timeout=10_000)

        card = phone.locator(".alert-card")
        card.wait_for(timeout=10_000)
        assert "Exercise" in card.inner_text()

        # The per-channel table: the resident's live connection got it.
        row = console.locator("#delivery-rows tr[data-channel='websocket']")
        row.locator(".c-sent", has_text="1").wait_for(timeout=10_000)
        assert row.locator("th").inner_text() == "App (live connection)"
        console.locator("#version-rows tr").first.wait_for(timeout=10_000)
        assert console.locator("#version-rows tr").count() == 1
        assert "Alert" in console.locator("#version-rows tr").first.inner_text()
        # The active list names it, marked as an exercise.
        console.locator("#alert-list li", has_text="Exercise").wait_for(timeout=15_000)
        console.screenshot(path=str(artifacts / "console-circle.png"), full_page=True)
        assert_accessible(console)

        console.fill("#cancel-reason", "Drill over")
        console.click("#cancel")
        console.locator("#version-rows tr", has_text="Cancel").wait_for(timeout=10_000)
        assert console.locator("#version-rows tr").count() == 2
        phone.locator(".alert-card.cancelled").wait_for(timeout=10_000)
    finally:
        resident.close()
        officer.close()


def test_a_lost_connection_is_shown_and_clears_when_the_server_answers_again(
    browser: Any, web: LiveServer
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        log_in(page, web.url)
        context.set_offline(True)
        # Any call now fails at the network: drawing asks for a preview.
        place_circle_in_west_half(page)
        page.locator("#connection.lost", has_text="Cannot reach the server").wait_for(
            timeout=10_000
        )
        context.set_offline(False)
        page.locator("#connection.ok", has_text="Connection restored").wait_for(timeout=15_000)
        # The area drawn while offline is still there and previews once back.
        page.locator("#area-summary", has_text="○").wait_for()
    finally:
        context.close()
