"""A resident chooses on the register form whether drills reach them; drills are marked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.e2e.test_pages import HOME, assert_accessible
from tests.support import LiveServer


def register_resident_for(page: Any, url: str, drills: bool) -> None:
    """Register at HOME in English, ticking "Also receive drills" or not."""
    page.goto(url + "/")
    page.select_option("#ui-language", "en")
    page.get_by_role("heading", name="My disaster alerts").wait_for()
    page.fill("#place-label", "Home")
    page.fill("#place-lon", str(HOME[0]))
    page.fill("#place-lat", str(HOME[1]))
    page.click("#add-place")
    page.check("input[name=language][value=en]")
    drills_box = page.get_by_label("Also receive drills")
    assert not drills_box.is_checked(), "drills must be opt-in"
    if drills:
        drills_box.check()
    page.click("#register")
    page.locator("#connection", has_text="Connected").wait_for(timeout=10_000)


def test_only_the_resident_who_ticked_drills_gets_exercises_marked(
    browser: Any, web: LiveServer, artifacts: Path
) -> None:
    contexts = [browser.new_context(viewport={"width": 390, "height": 844}) for _ in range(2)]
    try:
        drilling, plain = (context.new_page() for context in contexts)
        drilling.goto(web.url + "/")
        drilling.select_option("#ui-language", "en")
        drilling.get_by_role("heading", name="My disaster alerts").wait_for()
        assert_accessible(drilling)
        drilling.locator("#register-form section").last.screenshot(
            path=str(artifacts / "resident-drills-box.png")
        )
        register_resident_for(drilling, web.url, drills=True)
        register_resident_for(plain, web.url, drills=False)

        exercise = web.draft_and_issue(status="Exercise")
        card = drilling.locator(f".alert-card[data-alert-id='{exercise['id']}']")
        card.wait_for(timeout=10_000)
        assert card.locator("h3").inner_text() == "[EXERCISE] Evacuation order"
        assert card.locator(".badge.exercise").inner_text() == "Exercise"

        test = web.draft_and_issue(status="Test")
        test_card = drilling.locator(f".alert-card[data-alert-id='{test['id']}']")
        test_card.wait_for(timeout=10_000)
        assert test_card.locator("h3").inner_text() == "[TEST] Evacuation order"
        assert test_card.locator(".badge.exercise").inner_text() == "Test"
        drilling.screenshot(path=str(artifacts / "resident-drills.png"), full_page=True)

        # A real alert reaches both; by the time it has, the drills would have too.
        actual = web.draft_and_issue()
        for page in (drilling, plain):
            real = page.locator(f".alert-card[data-alert-id='{actual['id']}']")
            real.wait_for(timeout=10_000)
            assert real.locator("h3").inner_text() == "Evacuation order"
            assert real.locator(".badge.exercise").count() == 0
        plain.wait_for_timeout(1_000)
        assert plain.locator(".alert-card").count() == 1
        assert_accessible(plain)
    finally:
        for context in contexts:
            context.close()
