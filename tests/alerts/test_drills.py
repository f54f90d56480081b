"""Exercise and Test alerts reach only residents who opted in to drills, and say so everywhere."""

from __future__ import annotations

import json
from typing import Any

import pytest
from lxml import etree
from sqlalchemy import func, select

from alerts.drills import EXERCISE_MARKS, TEST_MARKS, mark, marked_headline
from alerts.models import Subscription
from integrations.cap.model import CAP12
from integrations.lalert.vocabulary import EDXL
from integrations.lalert.writer import NS as PCXML
from tests.integrations.lalert.test_http import fetch_message
from tests.integrations.webhooks.receiver import Receiver
from tests.integrations.webhooks.test_webhooks import SECRET, register
from tests.support import LiveServer, Resident, alert_body, http, wait_for

HOME = {"label": "home", "lon": 139.02, "lat": 35.05}
ATOM = "{http://www.w3.org/2005/Atom}"


def subscribe(server: LiveServer, drills: bool, languages: list[str] | None = None) -> Resident:
    """A resident at HOME (inside alert_body's area) who did or did not opt in to drills."""
    body = {"places": [HOME], "languages": languages or ["en"], "drills": drills}
    response = http.post(f"{server.url}/api/v1/subscriptions", json=body, timeout=30)
    assert response.status_code == 201, response.text
    data = response.json()
    return Resident(id=data["id"], token=data["token"], body=data)


def officer_call(server: LiveServer, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = http.post(
        f"{server.url}/api/v1{path}", json=body, headers=server.auth("officer-a"), timeout=30
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_an_exercise_reaches_only_opted_in_residents_live_and_when_they_join_late(
    server: LiveServer,
) -> None:
    drills = subscribe(server, drills=True)
    plain = subscribe(server, drills=False)
    sockets = {drills.id: server.connect(drills), plain.id: server.connect(plain)}

    exercise = server.draft_and_issue(status="Exercise")
    assert exercise["recipients"] == 1
    got = {rid: sock.alerts(expect=1 if rid == drills.id else 0) for rid, sock in sockets.items()}
    assert [m["headline"] for m in got[drills.id]] == ["[EXERCISE] Evacuation order"]
    assert got[drills.id][0]["status"] == "Exercise"
    assert got[plain.id] == []

    # Residents who register after the exercise went out: catch-up follows the same rule.
    late_drills = subscribe(server, drills=True, languages=["ja"])
    late_plain = subscribe(server, drills=False, languages=["ja"])
    late = {late_drills.id: server.connect(late_drills), late_plain.id: server.connect(late_plain)}
    caught = {rid: s.alerts(expect=1 if rid == late_drills.id else 0) for rid, s in late.items()}
    assert [m["headline"] for m in caught[late_drills.id]] == ["【訓練】避難指示"]
    assert caught[late_plain.id] == []
    wait_for(lambda: server.deliveries(exercise["id"])["recipients"] == 2)

    # Its end goes to those who got it, and nobody else.
    officer_call(server, f"/alerts/{exercise['id']}/cancel", {"reason": "drill over"})
    everyone = {**sockets, **late}
    ended = {
        rid: s.alerts(expect=int(rid in (drills.id, late_drills.id))) for rid, s in everyone.items()
    }
    assert [m["msg_type"] for m in ended[drills.id]] == ["Cancel"]
    assert [m["msg_type"] for m in ended[late_drills.id]] == ["Cancel"]
    assert ended[plain.id] == [] and ended[late_plain.id] == []

    # A real alert reaches everyone, unmarked.
    actual = server.draft_and_issue()
    assert actual["recipients"] == 4
    for rid, sock in everyone.items():
        [message] = sock.alerts(expect=1)
        assert message["status"] == "Actual"
        assert message["headline"] in ("Evacuation order", "避難指示"), rid
    for sock in everyone.values():
        sock.close()


def test_a_resident_who_opts_out_gets_no_replay_of_a_drill(server: LiveServer) -> None:
    resident = subscribe(server, drills=True)
    socket = server.connect(resident)
    server.draft_and_issue(status="Test")
    [message] = socket.alerts(expect=1)
    assert message["headline"] == "[TEST] Evacuation order"
    socket.close()

    # Reconnecting while still opted in replays the active drill (state sync)...
    again = server.connect(resident)
    assert [m["replay"] for m in again.alerts(expect=1)] == [True]
    again.close()

    # ...but not once they opted out, and later drills do not reach them either.
    response = http.put(
        f"{server.url}/api/v1/subscriptions/{resident.id}",
        json={"places": [HOME], "languages": ["en"], "drills": False},
        headers={"Authorization": f"Bearer {resident.token}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    after = server.connect(resident)
    assert after.alerts() == []
    assert server.draft_and_issue(status="Exercise")["recipients"] == 0
    assert after.alerts() == []
    after.close()


def test_drills_must_be_a_boolean_and_a_bad_one_stores_nothing(server: LiveServer) -> None:
    url = f"{server.url}/api/v1/subscriptions"
    for bad in ("yes", 1, None, [True]):
        response = http.post(url, json={"places": [HOME], "drills": bad}, timeout=30)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["field"] == "drills"
    with server.runtime.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Subscription)) == 0
    subscribe(server, drills=True)
    with server.runtime.db.session() as session:
        assert session.scalars(select(Subscription.drills)).all() == [True]


def test_the_preview_counts_only_opted_in_residents_for_an_exercise(server: LiveServer) -> None:
    subscribe(server, drills=True)
    subscribe(server, drills=False)
    area = alert_body()["area"]
    assert officer_call(server, "/alerts/preview", {"area": area})["recipients"] == 2
    actual = officer_call(server, "/alerts/preview", {"area": area, "status": "Actual"})
    assert actual["recipients"] == 2
    exercise = officer_call(server, "/alerts/preview", {"area": area, "status": "Exercise"})
    assert exercise["recipients"] == 1
    assert exercise["places"] == 1
    test = officer_call(server, "/alerts/preview", {"area": area, "status": "Test"})
    assert test["recipients"] == 1


def test_the_drills_choice_is_given_back(server: LiveServer) -> None:
    resident = subscribe(server, drills=True)
    assert resident.body["drills"] is True
    plain = http.post(f"{server.url}/api/v1/subscriptions", json={"places": [HOME]}, timeout=30)
    assert plain.status_code == 201, plain.text
    assert plain.json()["drills"] is False
    replaced = http.put(
        f"{server.url}/api/v1/subscriptions/{resident.id}",
        json={"places": [HOME], "drills": False},
        headers={"Authorization": f"Bearer {resident.token}"},
        timeout=30,
    )
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["drills"] is False


def test_every_format_marks_an_exercise(server: LiveServer) -> None:
    with Receiver(SECRET) as receiver:
        register(server, receiver.url)
        issued = server.draft_and_issue(status="Exercise")
        wait_for(lambda: receiver.count() >= 1)
        event = json.loads(receiver.received[0].body)
    webhook = event["alert"]
    assert webhook["status"] == "Exercise"
    assert {i["language"]: i["headline"] for i in webhook["content"]["info"]} == {
        "ja": "【訓練】避難指示",
        "en": "[EXERCISE] Evacuation order",
    }

    with server.client() as client:
        cap = etree.fromstring(client.get(f"/api/v1/alerts/{issued['id']}/cap").content)
        lalert = fetch_message(client, issued["id"])
        feed = etree.fromstring(client.get("/feeds/cap.atom").content)
    assert cap.findtext(f"{{{CAP12}}}status") == "Exercise"
    assert [h.text for h in cap.iter(f"{{{CAP12}}}headline")] == [
        "【訓練】避難指示",
        "[EXERCISE] Evacuation order",
    ]
    # L-Alert: EDXL distributionStatus (envelope and Control) plus the 訓練 mark in the title.
    assert lalert.findtext(f"{{{EDXL}}}distributionStatus") == "Exercise"
    assert [s.text for s in lalert.iter(f"{{{EDXL}}}distributionStatus")] == ["Exercise"] * 2
    [title] = list(lalert.iter(f"{{{PCXML['pcx_ib']}}}Title"))
    assert title.text == "【訓練】避難指示"
    [entry] = feed.findall(f"{ATOM}entry")
    assert entry.findtext(f"{ATOM}title") == "【訓練】避難指示"
    assert entry.findtext(f"{{{CAP12}}}status") == "Exercise"


@pytest.mark.parametrize(
    ("status", "language", "headline", "shown"),
    [
        ("Actual", "ja", "避難指示", "避難指示"),
        ("Exercise", "ja", "避難指示", "【訓練】避難指示"),
        ("Exercise", "ja-x-easy", "にげて", "【くんれん】にげて"),
        ("Exercise", "en-US", "Evacuate", "[EXERCISE] Evacuate"),
        ("Test", "en", "Evacuate", "[TEST] Evacuate"),
        ("Exercise", "zh-TW", "撤離", "【演習】撤離"),
        ("Exercise", "zh", "撤离", "【演习】撤离"),
        ("Exercise", "fil", "Lumikas", "[PAGSASANAY] Lumikas"),
        ("Exercise", "pt-BR", "Evacue", "[SIMULADO] Evacue"),
        ("Exercise", "fr", "Évacuez", "[EXERCISE] Évacuez"),
        # An officer who wrote the mark already does not get it twice.
        ("Exercise", "ja", "【訓練】避難指示", "【訓練】避難指示"),
    ],
)
def test_headlines_are_marked_in_their_own_language(
    status: str, language: str, headline: str, shown: str
) -> None:
    assert marked_headline(status, language, headline) == shown


def test_every_template_language_has_both_marks() -> None:
    languages = ["ja", "ja-x-easy", "en", "zh-Hans", "zh-Hant", "ko", "vi", "ne", "pt", "es"]
    languages += ["tl", "th", "id"]
    for language in languages:
        assert mark("Exercise", language) != mark("Test", language)
        if language != "en":
            assert mark("Exercise", language) != EXERCISE_MARKS["en"], language
            assert mark("Test", language) != TEST_MARKS["en"], language
    assert mark("Actual", "ja") == ""
