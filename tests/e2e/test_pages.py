"""The resident page and the officer console, driven in a real browser against a real server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.e2e.conftest import AXE
from tests.support import PASSWORD, LiveServer

# A resident in the west half of city A (139.0–139.1, 35.0–35.1).
HOME = (139.02, 35.05)


def assert_accessible(page: Any) -> None:
    """axe-core finds nothing serious or critical on the page as it is now."""
    # Evaluated, not added as an inline <script>: the pages' Content-Security-Policy forbids
    # inline scripts, and a URL would not load while a test has the page offline.
    page.evaluate(AXE.read_text())
    violations = page.evaluate(
        """async () => (await axe.run()).violations.map(
            v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' '))}))"""
    )
    bad = [v for v in violations if v["impact"] in ("serious", "critical")]
    assert not bad, json.dumps(bad, indent=2)


def register_resident(page: Any, url: str) -> None:
    page.goto(url + "/")
    page.select_option("#ui-language", "en")
    page.get_by_role("heading", name="My disaster alerts").wait_for()
    page.fill("#place-label", "Home")
    page.fill("#place-lon", str(HOME[0]))
    page.fill("#place-lat", str(HOME[1]))
    page.click("#add-place")
    page.check("input[name=language][value=en]")
    page.click("#register")
    page.locator("#connection", has_text="Connected").wait_for(timeout=10_000)


def log_in(page: Any, url: str, username: str = "officer-a") -> None:
    page.goto(url + "/console")
    page.select_option("#ui-language", "en")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#login")
    # The municipality boundary is drawn once the officer is known.
    page.locator(".leaflet-overlay-pane path").first.wait_for(timeout=10_000)


def draw_polygon_over_west_half(page: Any) -> None:
    """Click geoman's polygon tool and four vertices inside the west half of the city."""
    city = page.locator(".leaflet-overlay-pane path").first.bounding_box()
    page.click(".leaflet-pm-icon-polygon")
    corners = [(0.02, 0.1), (0.45, 0.1), (0.45, 0.9), (0.02, 0.9), (0.02, 0.1)]
    for fx, fy in corners:
        page.mouse.click(city["x"] + fx * city["width"], city["y"] + fy * city["height"])
        page.wait_for_timeout(150)


def test_officer_issues_and_resident_reads_it_in_english(
    browser: Any, web: LiveServer, artifacts: Path
) -> None:
    resident = browser.new_context(viewport={"width": 390, "height": 844})
    officer = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        phone = resident.new_page()
        register_resident(phone, web.url)
        stored = json.loads(phone.evaluate("localStorage.getItem('kizuna.subscription')"))
        assert stored["id"] and stored["token"]
        # A reload keeps the registration and reconnects.
        phone.reload()
        phone.locator("#connection", has_text="Connected").wait_for(timeout=10_000)
        assert phone.is_hidden("#register-form")

        console = officer.new_page()
        log_in(console, web.url)
        draw_polygon_over_west_half(console)
        console.locator("#preview[data-recipients='1']").wait_for(timeout=10_000)
        assert "1 residents" in console.inner_text("#preview")
        assert console.input_value("#headline-en") == "Evacuation order (Flood)"
        console.click("#issue")
        console.locator("#issued-note", has_text="Issued (version 1)").wait_for(timeout=10_000)

        card = phone.locator(".alert-card")
        card.wait_for(timeout=10_000)
        assert card.locator("h3").inner_text() == "Evacuation order (Flood)"
        assert "Everyone in a dangerous place must evacuate now." in card.inner_text()
        console.locator("#d-sent", has_text="1").wait_for(timeout=10_000)

        card.get_by_role("button", name="I am safe").click()
        card.get_by_role("button", name="You told them you are safe").wait_for(timeout=10_000)
        console.locator("#d-acknowledged", has_text="1").wait_for(timeout=10_000)

        phone.screenshot(path=str(artifacts / "resident.png"), full_page=True)
        console.screenshot(path=str(artifacts / "console.png"), full_page=True)
        assert_accessible(phone)
        assert_accessible(console)

        # Cancelling reaches the phone too.
        console.fill("#cancel-reason", "River level falling")
        console.click("#cancel")
        console.locator("#issued-note", has_text="Cancelled").wait_for(timeout=10_000)
        phone.locator(".alert-card.cancelled").wait_for(timeout=10_000)
    finally:
        resident.close()
        officer.close()


def test_errors_show_beside_fields_and_an_expired_session_keeps_the_draft(
    browser: Any, web: LiveServer
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.goto(web.url + "/console")
        page.select_option("#ui-language", "en")
        page.fill("#username", "officer-a")
        page.fill("#password", "wrong password")
        page.click("#login")
        page.locator("#login-form .field-error").wait_for(timeout=10_000)
        assert page.get_attribute("#password", "aria-invalid") == "true"

        page.fill("#password", PASSWORD)
        page.click("#login")
        page.locator(".leaflet-overlay-pane path").first.wait_for(timeout=10_000)
        # No area drawn: the API's error lands beside the map.
        page.click("#issue")
        error = page.locator("#map + .field-error")
        error.wait_for(timeout=10_000)
        assert "area" in error.inner_text()

        # Exercise mode is impossible to miss.
        assert page.is_hidden("#exercise-banner")
        page.check("#exercise")
        assert "EXERCISE" in page.inner_text("#exercise-banner")

        page.fill("#headline-ja", "避難指示（下書き）")
        page.evaluate("sessionStorage.setItem('kizuna.token', 'expired')")
        page.click("#issue")
        page.locator("#expired").wait_for(state="visible", timeout=10_000)
        page.fill("#username", "officer-a")
        page.fill("#password", PASSWORD)
        page.click("#login")
        page.locator("#alert-form").wait_for(state="visible", timeout=10_000)
        assert page.input_value("#headline-ja") == "避難指示（下書き）"
        assert page.is_checked("#exercise")
        assert page.is_visible("#exercise-banner")
    finally:
        context.close()


def test_resident_page_is_accessible_before_registering(
    browser: Any, web: LiveServer, artifacts: Path
) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="ja-JP")
    try:
        page = context.new_page()
        page.goto(web.url + "/")
        page.get_by_role("heading", name="わたしの防災情報").wait_for()
        assert page.evaluate("document.documentElement.lang") == "ja"
        page.screenshot(path=str(artifacts / "resident-register.png"), full_page=True)
        assert_accessible(page)
        # Registering with no place is refused by the API and shown beside the places list.
        page.click("#register")
        page.locator("#places + .field-error").wait_for(timeout=10_000)
    finally:
        context.close()


def test_resident_sees_a_lost_connection_and_reconnects(browser: Any, web: LiveServer) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844})
    sockets: list[Any] = []

    def through(route: Any) -> None:
        # Pass the page's socket through to the real server, keeping a handle to cut it.
        route.connect_to_server()
        sockets.append(route)

    try:
        page = context.new_page()
        page.route_web_socket("**/ws/alerts*", through)
        register_resident(page, web.url)
        assert len(sockets) == 1
        sockets[0].close()
        page.locator("#connection", has_text="Connection lost").wait_for(timeout=10_000)
        page.locator("#connection", has_text="Connected").wait_for(timeout=10_000)
        assert len(sockets) == 2
    finally:
        context.close()
