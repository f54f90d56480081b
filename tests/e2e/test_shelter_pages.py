"""The shelter manager's desk and the live shelter board, in a real browser."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sqlalchemy import select

from kizuna.models import User
from shelters import service
from shelters.models import Shelter
from shelters.records import ShelterRecord
from tests.e2e.test_pages import assert_accessible
from tests.support import CITY_A, PASSWORD, LiveServer, http


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
        after = http.get(f"{web.url}/api/v1/shelters/{shelter_id}", timeout=30).json()
        assert after["status"] == "open"
        assert after["occupancy"] == 7
    finally:
        context.close()


def api_shelter(web: LiveServer, shelter_id: str) -> dict[str, Any]:
    response = http.get(f"{web.url}/api/v1/shelters/{shelter_id}", timeout=30)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_manager_sets_wifi_and_needs_and_the_board_shows_them(
    browser: Any, web: LiveServer, artifacts: Path
) -> None:
    shelter_id = make_shelter(web, "E2E-WIFI", capacity=40)
    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        board = context.new_page()
        board.goto(f"{web.url}/console/shelters?municipality={CITY_A}")
        board.select_option("#ui-language", "en")
        item = board.locator(f".board-item[data-shelter-id='{shelter_id}']")
        item.wait_for(timeout=10_000)
        assert "Wi-Fi: Unknown" in item.inner_text()

        desk = context.new_page()
        log_in(desk, web.url)
        desk.select_option("#shelter-pick", shelter_id)
        desk.locator("#shelter-name", has_text="Shelter E2E-WIFI").wait_for()
        desk.select_option("#wifi-status", "degraded")
        desk.fill("#wifi-ssid", "Kizuna-Free")
        desk.get_by_role("button", name="Save Wi-Fi").click()
        item.locator(".wifi", has_text="Wi-Fi: Unstable (Kizuna-Free)").wait_for(timeout=10_000)

        # A bad count is refused by the API and the reason appears beside the list.
        desk.get_by_role("button", name="Add an item").click()
        desk.locator(".need-item").last.fill("water")
        desk.locator(".need-count").last.fill("-5")
        desk.get_by_role("button", name="Save needs").click()
        error = desk.locator("#needs-list + .field-error")
        error.wait_for(timeout=10_000)
        assert "0 or more" in error.inner_text()
        assert api_shelter(web, shelter_id)["needs"] == {}

        desk.locator(".need-count").last.fill("200")
        desk.get_by_role("button", name="Add an item").click()
        desk.locator(".need-item").last.fill("blankets")
        desk.locator(".need-count").last.fill("30")
        desk.get_by_role("button", name="Save needs").click()
        item.locator(".needs", has_text="water 200").wait_for(timeout=10_000)
        assert "blankets 30" in item.inner_text()
        assert desk.locator("#needs-form .field-error").count() == 0

        stored = api_shelter(web, shelter_id)
        assert stored["wifi"]["status"] == "degraded"
        assert stored["wifi"]["ssid"] == "Kizuna-Free"
        assert stored["needs"] == {"water": 200, "blankets": 30}

        # Removing a row and saving drops that need.
        desk.get_by_role("button", name="Remove blankets").click()
        desk.get_by_role("button", name="Save needs").click()
        item.locator(".needs", has_text=re.compile(r"^Needs: water 200$")).wait_for(timeout=10_000)
        assert "blankets" not in item.inner_text()
        assert api_shelter(web, shelter_id)["needs"] == {"water": 200}

        desk.screenshot(path=str(artifacts / "shelter-wifi-needs.png"), full_page=True)
        board.screenshot(path=str(artifacts / "shelter-board-wifi-needs.png"), full_page=True)
        assert_accessible(desk)
        assert_accessible(board)
    finally:
        context.close()


def test_a_stale_wifi_or_needs_save_shows_the_other_change_and_keeps_it(
    browser: Any, web: LiveServer, artifacts: Path
) -> None:
    shelter_id = make_shelter(web, "E2E-STALE-WIFI", capacity=20)
    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        desk = context.new_page()
        log_in(desk, web.url)
        desk.select_option("#shelter-pick", shelter_id)
        desk.locator("#shelter-name", has_text="Shelter E2E-STALE-WIFI").wait_for()

        # An officer changes Wi-Fi and needs behind the page's back.
        with web.client() as client:
            read = client.get(f"/api/v1/shelters/{shelter_id}")
            changed = client.patch(
                f"/api/v1/shelters/{shelter_id}",
                json={"wifi": {"status": "down", "ssid": "Town-Hall"}, "needs": {"rice": 50}},
                headers={**web.auth("officer-a"), "If-Match": read.headers["ETag"]},
            )
            assert changed.status_code == 200, changed.text

        desk.select_option("#wifi-status", "up")
        desk.fill("#wifi-ssid", "Mine")
        desk.get_by_role("button", name="Save Wi-Fi").click()
        error = desk.locator("#wifi-form .field-error")
        error.wait_for(timeout=10_000)
        text = error.inner_text()
        assert "Someone else changed it first" in text
        assert "Down (Town-Hall)" in text and "rice 50" in text
        # The page now shows what is stored, ready to be changed knowingly.
        assert desk.input_value("#wifi-status") == "down"
        assert desk.input_value("#wifi-ssid") == "Town-Hall"
        assert desk.input_value(".need-item") == "rice"
        stored = api_shelter(web, shelter_id)
        assert stored["wifi"]["status"] == "down" and stored["wifi"]["ssid"] == "Town-Hall"
        assert stored["needs"] == {"rice": 50}

        # Needs too: a second officer edit meanwhile is shown and not overwritten.
        with web.client() as client:
            read = client.get(f"/api/v1/shelters/{shelter_id}")
            changed = client.patch(
                f"/api/v1/shelters/{shelter_id}",
                json={"needs": {"rice": 80, "milk": 5}},
                headers={**web.auth("officer-a"), "If-Match": read.headers["ETag"]},
            )
            assert changed.status_code == 200, changed.text
        desk.locator(".need-count").first.fill("10")
        desk.get_by_role("button", name="Save needs").click()
        needs_error = desk.locator("#needs-form .field-error")
        needs_error.wait_for(timeout=10_000)
        assert "rice 80" in needs_error.inner_text() and "milk 5" in needs_error.inner_text()
        assert api_shelter(web, shelter_id)["needs"] == {"rice": 80, "milk": 5}
        desk.screenshot(path=str(artifacts / "shelter-conflict.png"), full_page=True)
        assert_accessible(desk)
    finally:
        context.close()


def test_taps_made_offline_are_kept_and_counted_once_when_back_online(
    browser: Any, web: LiveServer, artifacts: Path
) -> None:
    shelter_id = make_shelter(web, "E2E-OFFLINE", capacity=50)
    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        desk = context.new_page()
        log_in(desk, web.url)
        desk.select_option("#shelter-pick", shelter_id)
        desk.locator("#shelter-name", has_text="Shelter E2E-OFFLINE").wait_for()
        desk.get_by_role("button", name="Open").click()
        desk.locator("#shelter-status", has_text="Open").wait_for(timeout=10_000)

        context.set_offline(True)
        for _ in range(3):
            desk.get_by_role("button", name="Check in 1").click()
        desk.locator("#pending", has_text="3 not sent yet").wait_for(timeout=10_000)
        desk.locator("#pending-mark", has_text="+3").wait_for(timeout=10_000)
        desk.locator("#connection", has_text="Connection lost").wait_for(timeout=10_000)
        assert "0 / 50" in desk.inner_text("#occupancy")
        queued = desk.evaluate("JSON.parse(localStorage.getItem('kizuna.shelter.queue'))")
        assert len(queued) == 3 and len({q["key"] for q in queued}) == 3
        assert api_shelter(web, shelter_id)["occupancy"] == 0
        desk.screenshot(path=str(artifacts / "shelter-offline.png"), full_page=True)
        assert_accessible(desk)

        context.set_offline(False)
        desk.locator("#occupancy", has_text="3 / 50").wait_for(timeout=30_000)
        desk.locator("#pending").wait_for(state="hidden", timeout=30_000)
        desk.locator("#connection", has_text="Connection restored").wait_for(timeout=10_000)
        assert desk.locator("#pending-mark").is_hidden()
        assert api_shelter(web, shelter_id)["occupancy"] == 3
        assert desk.evaluate("localStorage.getItem('kizuna.shelter.queue')") == "[]"
    finally:
        context.close()


def test_a_tap_answered_but_not_heard_is_not_counted_twice(browser: Any, web: LiveServer) -> None:
    """The server applies a tap but the answer is lost: the re-send with the same key replays."""
    shelter_id = make_shelter(web, "E2E-LOST-ANSWER", capacity=50)
    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        desk = context.new_page()
        log_in(desk, web.url)
        desk.select_option("#shelter-pick", shelter_id)
        desk.locator("#shelter-name", has_text="Shelter E2E-LOST-ANSWER").wait_for()
        desk.get_by_role("button", name="Open").click()
        desk.locator("#shelter-status", has_text="Open").wait_for(timeout=10_000)

        dropped: list[str] = []

        def drop_first_answer(route: Any) -> None:
            response = route.fetch()
            if not dropped:
                dropped.append(route.request.headers["idempotency-key"])
                route.abort("connectionreset")  # applied on the server, never heard here
            else:
                route.fulfill(response=response)

        desk.route(f"**/api/v1/shelters/{shelter_id}/occupancy", drop_first_answer)
        desk.get_by_role("button", name="Check in 1").click()
        desk.locator("#occupancy", has_text="1 / 50").wait_for(timeout=30_000)
        desk.locator("#pending").wait_for(state="hidden", timeout=30_000)
        assert dropped and api_shelter(web, shelter_id)["occupancy"] == 1
    finally:
        context.close()


def test_an_officer_imports_a_csv_on_the_board_and_sees_each_bad_line(
    browser: Any, web: LiveServer, artifacts: Path
) -> None:
    csv = (
        "ID,名称,住所,緯度,経度,想定収容人数,災害種別_洪水,災害種別_地震\n"
        "B-1,ボード第一小学校,絆市本町1,35.01,139.01,300,1,1\n"
        "B-2,ボード体育館,絆市本町3,,139.03,500,1,\n"
    )
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        board = context.new_page()
        board.goto(f"{web.url}/console/shelters?municipality={CITY_A}")
        board.select_option("#ui-language", "en")
        board.locator("#connection", has_text="Connected").wait_for(timeout=10_000)
        board.fill("#username", "officer-a")
        board.fill("#password", PASSWORD)
        board.click("#login")
        board.locator("#import-form").wait_for(state="visible", timeout=10_000)

        board.get_by_role("button", name="Import").click()
        board.locator("#import-file + .field-error", has_text="Choose a file").wait_for()

        board.set_input_files(
            "#import-file",
            files=[{"name": "board.csv", "mimeType": "text/csv", "buffer": csv.encode()}],
        )
        board.get_by_role("button", name="Import").click()
        result = board.locator("#import-result")
        result.locator("li[data-line='3']", has_text="Line 3: 緯度 is empty").wait_for(
            timeout=10_000
        )
        assert "Created 1" in result.inner_text()
        board.locator(".board-item", has_text="ボード第一小学校").wait_for(timeout=10_000)
        assert board.locator(".board-item", has_text="ボード体育館").count() == 0
        assert board.locator("#board-map .leaflet-interactive").count() >= 1
        board.screenshot(path=str(artifacts / "shelter-board-import.png"), full_page=True)
        assert_accessible(board)
    finally:
        context.close()


def test_an_expired_session_sends_to_log_in_and_keeps_the_taps(
    browser: Any, web: LiveServer
) -> None:
    shelter_id = make_shelter(web, "E2E-EXPIRED", capacity=50)
    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        desk = context.new_page()
        log_in(desk, web.url)
        desk.select_option("#shelter-pick", shelter_id)
        desk.locator("#shelter-name", has_text="Shelter E2E-EXPIRED").wait_for()
        desk.get_by_role("button", name="Open").click()
        desk.locator("#shelter-status", has_text="Open").wait_for(timeout=10_000)

        desk.evaluate("sessionStorage.setItem('kizuna.token', 'expired-token')")
        desk.get_by_role("button", name="Check in 1").click()
        desk.locator("#login-form").wait_for(state="visible", timeout=10_000)
        assert desk.locator("#expired").is_visible()
        assert len(desk.evaluate("JSON.parse(localStorage.getItem('kizuna.shelter.queue'))")) == 1
        assert api_shelter(web, shelter_id)["occupancy"] == 0

        desk.fill("#username", "shelter-manager")
        desk.fill("#password", PASSWORD)
        desk.click("#login")
        desk.locator("#desk").wait_for(state="visible", timeout=10_000)
        desk.select_option("#shelter-pick", shelter_id)
        desk.locator("#occupancy", has_text="1 / 50").wait_for(timeout=10_000)
        assert api_shelter(web, shelter_id)["occupancy"] == 1
        assert desk.evaluate("localStorage.getItem('kizuna.shelter.queue')") == "[]"
    finally:
        context.close()
