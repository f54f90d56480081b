"""L-Alert over HTTP: importing by role, exporting alerts and the municipality feed."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from lxml import etree
from shapely.geometry import Point, shape

from alerts.models import Alert
from integrations.lalert.vocabulary import ATOM, COMMONS, EDXL
from kizuna.db import Database
from kizuna.settings import Settings
from tests.integrations.lalert.factories import (
    DetailSpec,
    evacuation_message,
    run_import,
    shelter_message,
)
from tests.support import CITY_A, LiveServer, alert_body, make_settings

TRUSTED = "lalert-node.example"
XML = {"content-type": "application/xml"}
PCX_EV = "{http://xml.publiccommons.ne.jp/pcxml1/body/evacuation4}"


@pytest.fixture
def settings(tmp_path: Path, database_url: str | None) -> Settings:
    return make_settings(
        tmp_path,
        database_url,
        lalert_trusted_senders=[TRUSTED],
        max_xml_bytes=100_000,
    )


def fetch_message(client: httpx.Client, alert_id: str, version: int | None = None) -> Any:
    params = {"version": version} if version else None
    response = client.get(f"/api/v1/alerts/{alert_id}/lalert", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/xml")
    return etree.fromstring(response.content)


def commons(distribution: Any, name: str) -> str | None:
    return distribution.findtext(f"{{{EDXL}}}contentObject/{{{COMMONS}}}{name}")


def detail(distribution: Any) -> tuple[str | None, str | None]:
    found = next(distribution.iter(f"{PCX_EV}Detail"))
    return found.findtext(f"{PCX_EV}Sort"), found.findtext(f"{PCX_EV}IssueOrLift")


def test_our_export_validates_and_chains_revisions_across_update_and_cancel(
    server: LiveServer, edxl_schema: etree.XMLSchema
) -> None:
    alert_id = server.draft_and_issue()["id"]
    officer = server.auth("officer-a")
    with server.client() as client:
        first = fetch_message(client, alert_id)
        updated = client.post(
            f"/api/v1/alerts/{alert_id}/update", json={"evacuation_level": 5}, headers=officer
        )
        assert updated.status_code == 200, updated.text
        second = fetch_message(client, alert_id)
        cancelled = client.post(
            f"/api/v1/alerts/{alert_id}/cancel", json={"reason": "水位が下がった"}, headers=officer
        )
        assert cancelled.status_code == 200, cancelled.text
        third = fetch_message(client, alert_id)
        again_first = fetch_message(client, alert_id, version=1)
        missing = client.get(f"/api/v1/alerts/{alert_id}/lalert", params={"version": 9})
    for message in (first, second, third):
        edxl_schema.assertValid(message)
        assert commons(message, "documentID") == alert_id
        assert commons(message, "category") == "EvacuationOrder"
    revisions = [
        (commons(m, "documentRevision"), commons(m, "previousDocumentRevision"))
        for m in (first, second, third)
    ]
    assert revisions == [("1", None), ("2", "1"), ("3", "2")]
    assert [detail(m) for m in (first, second, third)] == [
        ("避難指示", "発令"),
        ("緊急安全確保", "発令"),
        ("緊急安全確保", "解除"),
    ]
    assert [m.findtext(f"{{{EDXL}}}distributionType") for m in (first, second, third)] == [
        "Report",
        "Update",
        "Update",
    ]
    assert etree.tostring(again_first) == etree.tostring(first)
    assert missing.status_code == 404
    assert missing.json()["error"]["field"] == "version"


def test_the_feed_holds_each_active_evacuation_alert_of_the_municipality_once(
    server: LiveServer, edxl_schema: etree.XMLSchema
) -> None:
    evacuation = server.draft_and_issue()["id"]
    server.draft_and_issue(evacuation_level=None)  # a warning without evacuation: not L-Alert
    with server.client() as client:
        draft = client.post(
            "/api/v1/alerts", json=alert_body(), headers=server.auth("officer-a")
        ).json()["id"]
        feed = client.get(f"/feeds/lalert/{CITY_A}.xml")
        five_digits = client.get(f"/feeds/lalert/{CITY_A[:5]}.xml")
        of_draft = client.get(f"/api/v1/alerts/{draft}/lalert")
        client.post(f"/api/v1/alerts/{evacuation}/cancel", headers=server.auth("officer-a"))
        after_cancel = client.get(f"/feeds/lalert/{CITY_A}.xml")
        unknown = client.get("/feeds/lalert/011002.xml")
        malformed = client.get("/feeds/lalert/abc.xml")
    assert feed.status_code == 200
    assert feed.headers["content-type"].startswith("application/atom+xml")
    assert five_digits.content.count(b"<entry>") == 1
    entries = etree.fromstring(feed.content).findall(f"{{{ATOM}}}entry")
    assert [e.findtext(f"{{{ATOM}}}id") for e in entries] == [f"urn:uuid:{evacuation}"]
    distribution = entries[0].find(f"{{{ATOM}}}content/{{{EDXL}}}EDXLDistribution")
    edxl_schema.assertValid(distribution)
    assert of_draft.status_code == 404
    assert etree.fromstring(after_cancel.content).findall(f"{{{ATOM}}}entry") == []
    assert unknown.status_code == 404
    assert malformed.status_code == 422
    assert malformed.json()["error"]["field"] == "municipality_code"


def test_export_then_import_keeps_municipality_level_and_texts(
    server: LiveServer, tmp_path: Path, database: Database
) -> None:
    circle = {"lon": 139.08, "lat": 35.08, "radius_km": 1.5}
    area = {"geometry": alert_body()["area"]["geometry"], "circles": [circle]}
    alert_id = server.draft_and_issue(area=area)["id"]
    with server.client() as client:
        exported = client.get(f"/api/v1/alerts/{alert_id}/lalert").content
        echoed = client.post(
            "/api/v1/integrations/lalert", content=exported, headers=server.auth("officer-a")
        )
    # Our own message sent back to us is recognised, not issued a second time.
    assert echoed.json()["outcome"] == "duplicate"
    assert echoed.json()["alert_id"] == alert_id

    elsewhere = Settings(data_dir=tmp_path / "elsewhere")
    result = run_import(database, elsewhere, exported, force_trusted=True)
    assert result.outcome == "issued"
    with database.session() as session:
        copy = session.get(Alert, result.alert_id)
        assert copy is not None
        content = copy.versions[0].content
        geometry = shape(copy.versions[0].area_geometry)
    original = alert_body()
    assert copy.municipality_code == CITY_A
    assert content["evacuation_level"] == 4
    assert content["event"] == original["event"]
    ja = next(info for info in original["info"] if info["language"] == "ja")
    assert content["info"] == [ja]
    assert geometry.contains(Point(139.02, 35.05))  # inside the polygon
    assert geometry.contains(Point(139.08, 35.085))  # inside the circle
    assert not geometry.contains(Point(139.08, 35.02))  # in neither


def test_importing_answers_by_role_issues_for_trusted_senders_and_chains_updates(
    server: LiveServer,
) -> None:
    resident = server.subscribe([{"label": "home", "lon": 139.02, "lat": 35.05}])
    assert resident.id
    document = str(uuid.uuid4())
    with server.client() as client:
        url = "/api/v1/integrations/lalert"
        anonymous = client.post(url, content=evacuation_message(document), headers=XML)
        volunteer = client.post(
            url, content=evacuation_message(document), headers=server.auth("volunteer")
        )
        by_media = client.post(
            url,
            content=evacuation_message(sender="press.example"),
            headers=server.auth("media"),
        )
        issued = client.post(
            url, content=evacuation_message(document), headers=server.auth("officer-a")
        )
        lifted = client.post(
            url,
            content=evacuation_message(
                document, revision=2, previous=1, details=[DetailSpec(issue_or_lift="解除")]
            ),
            headers=server.auth("admin"),
        )
        shelter = client.post(url, content=shelter_message(), headers=server.auth("officer-a"))
        alert_id = issued.json()["alert_id"]
        exported = [fetch_message(client, alert_id, version) for version in (1, 2)]
    assert (anonymous.status_code, volunteer.status_code) == (401, 403)
    assert by_media.status_code == 200 and by_media.json()["outcome"] == "draft"
    assert issued.json()["outcome"] == "issued"
    assert issued.json()["recipients"] == 1
    assert issued.json()["evacuation_level"] == 4
    assert lifted.json()["outcome"] == "cancelled"
    assert lifted.json()["alert_id"] == issued.json()["alert_id"]
    # An imported alert goes out again with the 町丁目 codes and counts it came with.
    for message, lift in zip(exported, ("発令", "解除"), strict=True):
        assert detail(message) == ("避難指示", lift)
        chome = message.findtext(f".//{{{COMMONS}}}ooAzaTyouTyouMokuCode")
        assert chome == "999980001001"
        assert message.findtext(f".//{PCX_EV}HeadCount") == "120"
    assert shelter.status_code == 200
    assert shelter.json()["outcome"] == "skipped"
    assert shelter.json()["reason"] == "shelter messages (避難所情報) are not imported yet"


def test_bad_messages_are_refused_with_a_4xx_and_store_nothing(server: LiveServer) -> None:
    good = evacuation_message().decode()
    bad = [
        ("<EDXLDistribution", 422, "body"),
        (good.replace("<pcx_ev:Sort>", '<y:Sort xmlns:y="urn:y"/><pcx_ev:Sort>'), 422, "Sort"),
        (good.replace("999989", "999980"), 422, "commons:targetArea[0].jisX0402"),
        (
            '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
            + good.split("?>", 1)[1].replace("洪水", "&e;"),
            422,
            "body",
        ),
        (good.replace("直ちに避難してください", "あ" * 60_000), 413, "body"),
    ]
    with server.client() as client:
        admin = server.auth("admin")
        before = client.get("/api/v1/alerts", headers=admin).json()
        answers = [
            client.post(
                "/api/v1/integrations/lalert",
                content=body.encode(),
                headers={**server.auth("officer-a"), **XML},
            )
            for body, _, _ in bad
        ]
        after = client.get("/api/v1/alerts", headers=admin).json()
    assert [(a.status_code, a.json()["error"]["field"]) for a in answers] == [
        (status, field) for _, status, field in bad
    ]
    assert all("root:" not in a.text for a in answers)
    assert after == before


def test_the_feed_carries_the_open_shelters_and_a_new_revision_per_change(
    server: LiveServer, edxl_schema: etree.XMLSchema
) -> None:
    from shelters import upsert_shelters
    from shelters.records import ShelterRecord

    with server.runtime.db.session() as session:
        upsert_shelters(
            session,
            [
                ShelterRecord(
                    source_id="gym",
                    name="第一体育館",
                    lon=139.02,
                    lat=35.02,
                    municipality_code=CITY_A,
                    kind="shelter",
                    capacity=300,
                ),
                ShelterRecord(
                    source_id="hall",
                    name="公民館",
                    lon=139.03,
                    lat=35.03,
                    municipality_code=CITY_A,
                    kind="shelter",
                    capacity=50,
                ),
            ],
            "test",
        )
    headers = server.auth("officer-a")

    def shelter_entries(client: httpx.Client) -> list[Any]:
        feed = etree.fromstring(client.get(f"/feeds/lalert/{CITY_A}.xml").content)
        return [
            e
            for e in feed.findall(f"{{{ATOM}}}entry")
            if e.findtext(f"{{{ATOM}}}id", "").endswith(":shelters")
        ]

    with server.client() as client:
        assert shelter_entries(client) == []  # every shelter closed: no 避難所情報
        gym = client.get("/api/v1/shelters", params={"municipality": CITY_A}).json()
        gym_id = next(s["id"] for s in gym if s["source_id"] == "gym")
        tag = client.get(f"/api/v1/shelters/{gym_id}").headers["ETag"]
        client.patch(
            f"/api/v1/shelters/{gym_id}",
            json={"status": "open"},
            headers={**headers, "If-Match": tag},
        )
        client.post(f"/api/v1/shelters/{gym_id}/occupancy", json={"delta": 42}, headers=headers)
        [entry] = shelter_entries(client)
        distribution = entry.find(f"{{{ATOM}}}content/{{{EDXL}}}EDXLDistribution")
        edxl_schema.assertValid(distribution)
        text = etree.tostring(distribution, encoding="unicode")
        assert "第一体育館" in text and "公民館" not in text
        assert ">42<" in text and ">開設<" in text and ">300<" in text
        first_revision = int(commons(distribution, "documentRevision") or 0)
        client.post(f"/api/v1/shelters/{gym_id}/occupancy", json={"delta": 8}, headers=headers)
        [later] = shelter_entries(client)
        distribution = later.find(f"{{{ATOM}}}content/{{{EDXL}}}EDXLDistribution")
        assert int(commons(distribution, "documentRevision") or 0) == first_revision + 1
        assert ">50<" in etree.tostring(distribution, encoding="unicode")
