"""The volunteer's page in a real browser: a resident's request, claimed, reveals the contact."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tests.e2e.test_pages import assert_accessible
from tests.mutual_aid.test_mutual_aid import HOME, ask
from tests.support import PASSWORD, LiveServer


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

        seen = httpx.get(
            f"{web.url}/api/v1/aid/requests/{request_id}",
            headers={"Authorization": f"Bearer {resident.token}"},
            timeout=30,
        ).json()
        assert seen["state"] == "completed"
    finally:
        context.close()
