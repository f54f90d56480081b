"""The shelter manager's desk and the live shelter board, in a real browser."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from kizuna.models import User
from shelters import service
from shelters.models import Shelter
from shelters.records import ShelterRecord
from tests.e2e.test_pages import assert_accessible
from tests.support import CITY_A, PASSWORD, LiveServer


def make_shelter(server: LiveServer, source_id: str, capacity: int) -> str:
    """A closed shelter in city A managed by `shelter-manager`; returns its id."""
    record = ShelterRecord(
        source_id=source_id,
        name=f"Shelter {source_id}",
        lon=139.03,
        lat=35.05,
        municipality_code=CITY_A,
        kind="shelter",
        hazards=["flood"],
        capacity=capacity,
    )
    with server.runtime.db.session() as session:
        report = service.upsert_shelters(session, [record], "test")
        assert not report.errors, report.errors
        shelter_id = session.scalar(select(Shelter.id).where(Shelter.source_id == source_id))
        manager = session.scalar(select(User).where(User.username == "shelter-manager"))
        assert shelter_id is not None and manager is not None
        service.assign_manager(session, manager, shelter_id)
        return str(shelter_id)


def log_in(page: Any, url: str) -> None:
    page.goto(url + "/shelter")
    page.select_option("#ui-language", "en")
    page.fill("#username", "shelter-manager")
    page.fill("#password", PASSWORD)
    page.click("#login")
    page.locator("#desk").wait_for(state="visible", timeout=10_000)


def test_manager_checks_in_until_full_and_the_board_shows_it(
    browser: Any, web: LiveServer, artifacts: Path
) -> None:
    make_shelter(web, "E2E-FULL", capacity=3)
    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        board = context.new_page()
        board.goto(f"{web.url}/console/shelters?municipality={CITY_A}")
        board.select_option("#ui-language", "en")
        board.locator("#connection", has_text="Connected").wait_for(timeout=10_000)
        item = board.locator(".board-item", has_text="Shelter E2E-FULL")
        item.wait_for(timeout=10_000)
        assert item.get_attribute("data-status") == "closed"

        desk = context.new_page()
        log_in(desk, web.url)
        desk.get_by_role("button", name="Open").click()
        desk.locator("#shelter-status", has_text="Open").wait_for(timeout=10_000)
        for expected in ("1 / 3", "2 / 3", "3 / 3"):
            desk.get_by_role("button", name="Check in 1").click()
            desk.locator("#occupancy", has_text=expected).wait_for(timeout=10_000)
        desk.locator("#shelter-status", has_text="Full").wait_for(timeout=10_000)
        assert desk.is_disabled("#checkin")

        board.locator(".board-item[data-status='full']", has_text="Shelter E2E-FULL").wait_for(
            timeout=10_000
        )
        assert "3 / 3" in item.inner_text()
        desk.screenshot(path=str(artifacts / "shelter.png"), full_page=True)
        board.screenshot(path=str(artifacts / "shelter-board.png"), full_page=True)
        assert_accessible(desk)
        assert_accessible(board)
    finally:
        context.close()


def test_a_stale_close_shows_the_conflicting_state_and_overwrites_nothing(
    browser: Any, web: LiveServer
) -> None:
    shelter_id = make_shelter(web, "E2E-STALE", capacity=50)
    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        desk = context.new_page()
        log_in(desk, web.url)
        desk.select_option("#shelter-pick", shelter_id)
        desk.get_by_role("button", name="Open").click()
        desk.locator("#shelter-status", has_text="Open").wait_for(timeout=10_000)

        # An officer changes the shelter behind the page's back.
        with web.client() as client:
            read = client.get(f"/api/v1/shelters/{shelter_id}")
            changed = client.patch(
                f"/api/v1/shelters/{shelter_id}",
                json={"occupancy": 7},
                headers={**web.auth("officer-a"), "If-Match": read.headers["ETag"]},
            )
            assert changed.status_code == 200, changed.text

        desk.get_by_role("button", name="Close").click()
        error = desk.locator("#desk .field-error")
        error.wait_for(timeout=10_000)
        assert "Someone else changed it first" in error.inner_text()
        assert "7 / 50" in error.inner_text()
        desk.locator("#occupancy", has_text="7 / 50").wait_for(timeout=10_000)
        after = httpx.get(f"{web.url}/api/v1/shelters/{shelter_id}", timeout=30).json()
        assert after["status"] == "open"
        assert after["occupancy"] == 7
    finally:
        context.close()
