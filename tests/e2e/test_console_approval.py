"""Two officers in two browsers: one asks, the other approves, the alert goes out; districts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_pages import assert_accessible, log_in, register_resident
from tests.support import CITY_A, LiveServer, http, make_settings, polygon, start_server


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server with the two-person rule on and city A split into a west and an east district."""
    server = start_server(make_settings(tmp_path_factory.mktemp("guarded"), two_person_rule=True))
    try:
        districts = {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "properties": {"name": "西地区"},
                    "geometry": polygon(139.0, 35.0, 139.05, 35.1),
                },
                {
                    "type": "Feature",
                    "properties": {"name": "東地区"},
                    "geometry": polygon(139.05, 35.0, 139.1, 35.1),
                },
            ],
        }
        stored = http.post(
            f"{server.url}/api/v1/municipalities/{CITY_A}/districts",
            json=districts,
            headers=server.auth("officer-a"),
            timeout=30,
        )
        assert stored.status_code == 201, stored.text
        yield server
    finally:
        server.stop()


def test_an_actual_alert_for_a_district_goes_out_only_when_a_colleague_approves(
    browser: Any, guarded: LiveServer, artifacts: Path
) -> None:
    resident = browser.new_context(viewport={"width": 390, "height": 844})
    author_context = browser.new_context(viewport={"width": 1280, "height": 900})
    approver_context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        phone = resident.new_page()
        register_resident(phone, guarded.url)  # lives in the west half

        author = author_context.new_page()
        log_in(author, guarded.url)
        assert author.inner_text("#issue") == "Ask for approval"
        author.get_by_label("西地区").check()
        author.locator("#area-summary", has_text="西地区").wait_for()
        author.locator("#preview[data-recipients='1']").wait_for(timeout=10_000)
        author.click("#issue")
        author.locator("#pending-approval", has_text="Approval requested by officer-a").wait_for(
            timeout=10_000
        )
        # The author sees their own request but cannot approve it.
        author.locator("#approval-list li", has_text="You cannot approve").wait_for(timeout=10_000)
        assert author.locator("#approval-list .approve").count() == 0

        # Nothing reached the phone yet.
        phone.wait_for_timeout(1000)
        assert phone.locator(".alert-card").count() == 0

        approver = approver_context.new_page()
        log_in(approver, guarded.url, username="officer-a2")
        request = approver.locator("#approval-list li", has_text="Asked by officer-a")
        request.wait_for(timeout=10_000)
        # The approver sees what they approve: the district on the map and who it reaches.
        request.locator(".show-area").click()
        approver.locator("#preview", has_text="1 residents").wait_for(timeout=10_000)
        # Rejecting without a reason is refused beside the reason field.
        request.locator(".reject").click()
        request.locator(".field-error").wait_for(timeout=10_000)
        approver.screenshot(path=str(artifacts / "console-approval.png"), full_page=True)
        assert_accessible(approver)
        request.locator(".approve").click()
        approver.locator("#issued-note", has_text="Issued (version 1)").wait_for(timeout=10_000)

        # The author's console follows it to issued; the phone gets it.
        author.locator("#issued-note", has_text="Issued (version 1)").wait_for(timeout=10_000)
        card = phone.locator(".alert-card")
        card.wait_for(timeout=10_000)
        assert "Evacuation order" in card.inner_text()
        row = approver.locator("#delivery-rows tr[data-channel='websocket']")
        row.locator(".c-sent", has_text="1").wait_for(timeout=10_000)
        # The resident page confirmed receipt: the console counts it as reached.
        row.locator(".c-delivered", has_text="1").wait_for(timeout=10_000)
    finally:
        resident.close()
        author_context.close()
        approver_context.close()


def test_a_rejected_request_shows_the_reason_and_the_draft_can_be_asked_again(
    browser: Any, guarded: LiveServer
) -> None:
    author_context = browser.new_context(viewport={"width": 1280, "height": 900})
    approver_context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        author = author_context.new_page()
        log_in(author, guarded.url)
        author.get_by_label("東地区").check()
        author.locator("#area-summary", has_text="東地区").wait_for()
        author.click("#issue")
        author.locator("#pending-approval", has_text="Approval requested").wait_for(timeout=10_000)

        approver = approver_context.new_page()
        log_in(approver, guarded.url, username="officer-a2")
        request = approver.locator("#approval-list li", has_text="Asked by officer-a")
        request.wait_for(timeout=10_000)
        request.locator("input").fill("Wrong district: the river is in the west")
        request.locator(".reject").click()
        request.wait_for(state="detached", timeout=10_000)

        author.locator(
            "#pending-approval", has_text="Rejected by officer-a2: Wrong district"
        ).wait_for(timeout=10_000)
        assert author.is_enabled("#issue")
    finally:
        author_context.close()
        approver_context.close()
