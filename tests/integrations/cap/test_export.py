"""Our alerts as CAP 1.2: every version, every language, areas in CAP's own terms."""

from __future__ import annotations

from typing import Any

import pytest
from lxml import etree

from alerts import service as alerts_service
from alerts.schemas import AlertCancel, AlertCreate, AlertUpdate
from integrations.cap.service import export_cap
from integrations.cap.xmldoc import cap_schema
from kizuna.db import Database
from kizuna.errors import NotFound
from kizuna.settings import Settings
from tests.integrations.cap.messages import CAP12, user
from tests.support import CITY_A, alert_body, polygon

NS = {"cap": CAP12}
MULTI = {
    "type": "MultiPolygon",
    "coordinates": [
        polygon(139.0, 35.0, 139.02, 35.02)["coordinates"],
        polygon(139.03, 35.05, 139.05, 35.08)["coordinates"],
    ],
}


def issue(database: Database, settings: Settings, **overrides: Any) -> str:
    """Draft and issue an alert as officer-a; returns its id."""
    with database.session() as session:
        officer = user(session, "officer-a")
        body = AlertCreate.model_validate(alert_body(**overrides))
        alert = alerts_service.create_alert(session, settings, officer, body)
        alerts_service.issue_alert(session, settings, officer, alert.id)
        return alert.id


def export(
    database: Database, settings: Settings, alert_id: str, version: int | None = None
) -> etree._Element:
    with database.session() as session:
        data = export_cap(session, settings, None, alert_id, version)
    root = etree.fromstring(data)
    assert cap_schema().validate(root), cap_schema().error_log
    return root


def texts(root: etree._Element, path: str) -> list[str]:
    return [node.text or "" for node in root.findall(path, NS)]


def test_an_issued_alert_exports_with_one_info_per_language_and_its_level(
    database: Database, local_settings: Settings
) -> None:
    alert_id = issue(database, local_settings, status="Exercise")
    root = export(database, local_settings, alert_id)
    assert texts(root, "cap:status") == ["Exercise"]
    assert texts(root, "cap:msgType") == ["Alert"]
    assert texts(root, "cap:info/cap:language") == ["ja", "en"]
    # An exercise says so in its headlines too, in each one's language.
    assert texts(root, "cap:info/cap:headline") == [
        "【訓練】避難指示",
        "[EXERCISE] Evacuation order",
    ]
    assert texts(root, "cap:info/cap:parameter/cap:valueName") == ["EvacuationLevel"] * 2
    assert texts(root, "cap:info/cap:parameter/cap:value") == ["4", "4"]
    sent = texts(root, "cap:sent")[0]
    assert sent.endswith("+00:00") and "Z" not in sent
    assert root.find("cap:references", NS) is None


def test_areas_become_lat_lon_polygons_circles_and_jis_geocodes(
    database: Database, local_settings: Settings
) -> None:
    alert_id = issue(
        database,
        local_settings,
        area={
            "geometry": MULTI,
            "circles": [{"lon": 139.04, "lat": 35.06, "radius_km": 1.5}],
            "municipality_codes": [CITY_A],
        },
    )
    area = export(database, local_settings, alert_id).find("cap:info/cap:area", NS)
    assert area is not None
    polygons = texts(area, "cap:polygon")
    # A MultiPolygon gives one polygon per part, each closed, lat before lon.
    assert len(polygons) == 2
    first = polygons[0].split()
    assert first[0] == first[-1]
    assert {pair.split(",")[0] for pair in first} == {"35.0", "35.02"}
    assert {pair.split(",")[1] for pair in first} == {"139.0", "139.02"}
    assert texts(area, "cap:circle") == ["35.06,139.04 1.5"]
    assert texts(area, "cap:geocode/cap:valueName") == ["JIS X 0402"]
    assert texts(area, "cap:geocode/cap:value") == [CITY_A]
    assert texts(area, "cap:areaDesc") == ["Atown"]


def test_update_and_cancel_export_with_references_to_every_earlier_version(
    database: Database, local_settings: Settings
) -> None:
    alert_id = issue(database, local_settings)
    with database.session() as session:
        officer = user(session, "officer-a")
        alerts_service.update_alert(
            session, local_settings, officer, alert_id, AlertUpdate(evacuation_level=5)
        )
        alerts_service.cancel_alert(
            session, local_settings, officer, alert_id, AlertCancel(reason="river receded")
        )
        versions = alerts_service.get_alert(session, officer, alert_id).versions
        stored = [list(version.references) for version in versions]
    first, update, cancel = (export(database, local_settings, alert_id, n) for n in (1, 2, 3))
    assert texts(update, "cap:msgType") == ["Update"]
    assert texts(cancel, "cap:msgType") == ["Cancel"]
    assert texts(update, "cap:references") == [" ".join(stored[1])]
    assert texts(cancel, "cap:references") == [" ".join(stored[2])]
    sender, identifier, sent = (
        texts(first, f"cap:{n}")[0] for n in ("sender", "identifier", "sent")
    )
    assert texts(update, "cap:references") == [f"{sender},{identifier},{sent}"]
    assert texts(update, "cap:info/cap:parameter/cap:value")[0] == "5"
    assert texts(cancel, "cap:note") == ["river receded"]
    # The default is the current version.
    assert etree.tostring(export(database, local_settings, alert_id)) == etree.tostring(cancel)


def test_a_draft_is_exported_only_for_the_officers_of_its_municipality(
    database: Database, local_settings: Settings
) -> None:
    with database.session() as session:
        officer = user(session, "officer-a")
        body = AlertCreate.model_validate(alert_body())
        alert_id = alerts_service.create_alert(session, local_settings, officer, body).id
    with database.session() as session:
        mine = export_cap(session, local_settings, user(session, "officer-a"), alert_id, None)
        assert b"<msgType>Alert</msgType>" in mine
        for viewer in (None, user(session, "officer-b"), user(session, "media")):
            with pytest.raises(NotFound):
                export_cap(session, local_settings, viewer, alert_id, None)


def test_a_version_that_does_not_exist_is_not_found_naming_the_field(
    database: Database, local_settings: Settings
) -> None:
    alert_id = issue(database, local_settings)
    with database.session() as session, pytest.raises(NotFound) as caught:
        export_cap(session, local_settings, None, alert_id, 2)
    assert caught.value.field == "version"
    assert "versions 1–1" in caught.value.message
