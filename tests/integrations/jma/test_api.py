"""POST /api/v1/integrations/jma: one telegram in over HTTP, the alerts it made out."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from kizuna.settings import Settings
from tests.integrations.jma.factories import NANAO, code6, landslide, now_jst, serve, volcano_flash
from tests.support import LiveServer, http, make_settings

ROUTE = "/api/v1/integrations/jma"
XML = {"Content-Type": "application/xml"}


@pytest.fixture
def settings(tmp_path: Path, database_url: str | None) -> Settings:
    """The shared test settings, with JMA auto-issue on (only an admin's post is trusted)."""
    return make_settings(
        tmp_path,
        database_url,
        jma_auto_issue=True,
    )


def post(server: LiveServer, user: str | None, body: bytes) -> httpx.Response:
    headers = dict(XML)
    if user is not None:
        headers.update(server.auth(user))
    return http.post(server.url + ROUTE, content=body, headers=headers, timeout=30)


def test_a_posted_telegram_answers_201_with_the_alerts_it_made(server: LiveServer) -> None:
    serve(server.runtime.db, [code6(NANAO)])
    telegram = landslide(now_jst(), {NANAO: "発表"})

    made = post(server, "officer-a", telegram)

    assert made.status_code == 201, made.text
    body = made.json()
    assert body["type_code"] == "VXWW50" and body["type_name"] == "土砂災害警戒情報"
    [alert] = body["alerts"]
    assert (alert["municipality_code"], alert["msg_type"]) == ("172022", "Alert")
    # An officer's telegram is kept for review even with auto-issue on.
    assert alert["outcome"] == "draft"
    shown = http.get(
        f"{server.url}/api/v1/alerts/{alert['alert_id']}", headers=server.auth("admin"), timeout=30
    )
    assert shown.status_code == 200
    assert shown.json()["municipality_code"] == "172022"

    again = post(server, "media", telegram)
    assert again.status_code == 200
    assert [a["outcome"] for a in again.json()["alerts"]] == ["duplicate"]


def test_an_admins_telegram_is_issued_at_once_when_auto_issue_is_on(server: LiveServer) -> None:
    serve(server.runtime.db, [code6(NANAO)])

    made = post(server, "admin", landslide(now_jst(), {NANAO: "発表"}))

    assert made.status_code == 201, made.text
    assert [a["outcome"] for a in made.json()["alerts"]] == ["issued"]


def test_a_known_type_we_do_not_use_answers_200_skipped(server: LiveServer) -> None:
    answer = post(server, "officer-a", volcano_flash(now_jst()))

    assert answer.status_code == 200
    assert answer.json()["skipped"] == "噴火速報"


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"<Report", "not well-formed"),
        (b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"/>', "not a JMA"),
    ],
)
def test_malformed_or_foreign_xml_answers_422_in_the_error_shape(
    server: LiveServer, body: bytes, words: str
) -> None:
    answer = post(server, "officer-a", body)

    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "invalid_input" and error["field"] == "body"
    assert words in error["message"]


def test_only_officers_admins_and_media_may_post_telegrams(server: LiveServer) -> None:
    telegram = landslide(now_jst(), {NANAO: "発表"})

    assert post(server, None, telegram).status_code == 401
    assert post(server, "volunteer", telegram).status_code == 403
