"""Resident page additions: ask for help and follow it live; the Web Push service worker route."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from kizuna.auth import create_user
from tests.e2e.test_pages import assert_accessible, register_resident
from tests.support import CITY_A, PASSWORD, LiveServer, http


def test_resident_asks_for_help_and_sees_a_helper_coming(
    browser: Any, web: LiveServer, artifacts: Path
) -> None:
    with web.runtime.db.session() as session:
        create_user(session, web.runtime.settings, "e2e-helper", PASSWORD, "volunteer", [CITY_A])
    helper = web.auth("e2e-helper")
    profile = http.put(
        f"{web.url}/api/v1/aid/volunteers/me",
        json={"lon": 139.03, "lat": 35.05, "radius_m": 5000},
        headers=helper,
        timeout=30,
    )
    assert profile.status_code == 200, profile.text

    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        page = context.new_page()
        register_resident(page, web.url)
        form = page.locator("#aid-form")
        form.wait_for(state="visible", timeout=10_000)
        page.select_option("#aid-kind", "water")
        page.get_by_label("Details").fill("e2e: two 2 l bottles, 3rd floor")
        page.get_by_label("Contact (only the helper sees it)").fill("080-0000-1111")
        page.get_by_role("button", name="Ask for help").click()
        mine = page.locator("#aid-requests .aid-mine")
        mine.locator(".aid-state", has_text="Waiting for a helper").wait_for(timeout=10_000)
        request_id = mine.get_attribute("data-request")
        assert request_id

        # A volunteer claims it over HTTP: the resident's page follows over WS /ws/aid.
        claimed = http.post(
            f"{web.url}/api/v1/aid/requests/{request_id}/claim", headers=helper, timeout=30
        )
        assert claimed.status_code == 200, claimed.text
        assert claimed.json()["contact"] == "080-0000-1111"
        mine.locator(".aid-state", has_text="A helper is coming").wait_for(timeout=10_000)
        assert page.is_visible("#enable-push")
        page.screenshot(path=str(artifacts / "resident-aid.png"), full_page=True)
        assert_accessible(page)
    finally:
        context.close()


def test_service_worker_is_served_for_the_whole_site(web: LiveServer) -> None:
    answer = http.get(f"{web.url}/sw.js", timeout=30)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/javascript")
    assert answer.headers["service-worker-allowed"] == "/"
    assert 'addEventListener("push"' in answer.text
    page = http.get(f"{web.url}/", timeout=30).text
    assert 'id="enable-push"' in page
    assert "/static/js/aid.js" in page


def test_every_page_script_parses() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    scripts = Path(__file__).resolve().parents[2] / "kizuna/web/static/js"
    for script in sorted(scripts.glob("*.js")):
        checked = subprocess.run([node, "--check", str(script)], capture_output=True, text=True)
        assert checked.returncode == 0, f"{script.name}: {checked.stderr}"
