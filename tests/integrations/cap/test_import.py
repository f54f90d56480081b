"""CAP into alerts through the import seam: drafts, trusted senders, updates, all-or-nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from alerts.models import Alert
from alerts.schemas import AlertUpdate
from alerts.service import get_alert, update_alert
from integrations.cap.parse import read_messages
from integrations.cap.service import export_cap, import_cap
from kizuna.db import Database
from kizuna.errors import InvalidInput
from kizuna.settings import Settings
from tests.integrations.cap.messages import (
    CAP12,
    TRUSTED_SENDER,
    area_xml,
    cap_message,
    info_xml,
    reference_to,
    user,
)
from tests.support import CITY_A


def run_import(
    database: Database, settings: Settings, data: bytes, username: str = "media"
) -> list[dict[str, object]]:
    with database.session() as session:
        return [
            item.as_dict() for item in import_cap(session, settings, user(session, username), data)
        ]


def alert_count(database: Database) -> int:
    with database.session() as session:
        return int(session.scalar(select(func.count()).select_from(Alert)) or 0)


def test_a_message_from_an_unknown_sender_waits_as_a_draft(
    database: Database, local_settings: Settings
) -> None:
    [result] = run_import(database, local_settings, cap_message(identifier="u-1"))
    assert result["outcome"] == "draft"
    assert result["version"] is None
    with database.session() as session:
        alert = get_alert(session, user(session, "officer-a"), str(result["alert_id"]))
        assert alert.state == "draft"
        # The media user acts for city A; the alert waits for city A's officers.
        assert alert.municipality_code == CITY_A
        assert alert.draft["info"][0]["headline"] == "Flood warning"


def test_a_trusted_sender_is_issued_and_its_update_changes_the_same_alert(
    database: Database, local_settings: Settings
) -> None:
    original = cap_message(identifier="t-1", sender=TRUSTED_SENDER)
    update = cap_message(
        identifier="t-2",
        sender=TRUSTED_SENDER,
        msg_type="Update",
        references=[reference_to(original)],
        infos=[info_xml(headline="Flood warning extended")],
    )
    # Relayed by a media account, the sender's name alone earns no trust: it names itself.
    [relayed] = run_import(
        database, local_settings, cap_message(identifier="t-0", sender=TRUSTED_SENDER)
    )
    assert relayed["outcome"] == "draft"
    [issued] = run_import(database, local_settings, original, username="officer-a")
    [updated] = run_import(database, local_settings, update, username="officer-a")
    assert issued["outcome"] == "issued"
    assert updated["outcome"] == "updated"
    assert updated["alert_id"] == issued["alert_id"]
    assert updated["version"] == 2
    with database.session() as session:
        xml = export_cap(session, local_settings, None, str(issued["alert_id"]), None)
    exported = read_messages(xml, local_settings.max_xml_bytes)[0].alert
    # The export of an imported version is the message that came in, references and all.
    assert exported.identifier == "t-2"
    assert exported.references == [reference_to(original)]
    assert exported.infos[0].headline == "Flood warning extended"


def test_the_same_message_twice_is_stored_once(
    database: Database, local_settings: Settings
) -> None:
    message = cap_message(identifier="d-1")
    first = run_import(database, local_settings, message)
    second = run_import(database, local_settings, message)
    assert second[0]["outcome"] == "duplicate"
    assert second[0]["alert_id"] == first[0]["alert_id"]
    assert alert_count(database) == 1


def test_a_geocode_naming_our_municipality_targets_it(
    database: Database, local_settings: Settings
) -> None:
    message = cap_message(
        identifier="g-1",
        sender=TRUSTED_SENDER,
        infos=[info_xml(areas=[area_xml(polygons=[], geocodes=[("JIS X 0402", CITY_A)])])],
    )
    [result] = run_import(database, local_settings, message, username="admin")
    with database.session() as session:
        alert = get_alert(session, user(session, "admin"), str(result["alert_id"]))
        assert alert.municipality_code == CITY_A
        assert alert.versions[0].content["area"] == {"municipality_codes": [CITY_A]}
        # The version's area is city A's boundary.
        bounds = alert.versions[0].area_geometry["coordinates"][0]
        assert min(p[0] for p in bounds) == pytest.approx(139.0)


def test_a_container_with_one_bad_message_stores_nothing(
    database: Database, local_settings: Settings
) -> None:
    good = cap_message(identifier="c-1").split(b"?>", 1)[1]
    ack = cap_message(identifier="c-2", msg_type="Ack").split(b"?>", 1)[1]
    with pytest.raises(InvalidInput) as caught, database.session() as session:
        import_cap(
            session,
            local_settings,
            user(session, "media"),
            f'<alerts xmlns="{CAP12}">'.encode() + good + ack + b"</alerts>",
        )
    assert caught.value.field == "msgType"
    assert alert_count(database) == 0


def test_a_cancel_without_info_is_kept_with_a_line_for_residents(
    database: Database, local_settings: Settings
) -> None:
    original = cap_message(identifier="n-1")
    cancel = cap_message(
        identifier="n-2",
        msg_type="Cancel",
        references=[reference_to(original)],
        infos=[],
        note="Sent in error",
    )
    [result] = run_import(database, local_settings, cancel)
    with database.session() as session:
        alert = get_alert(session, user(session, "officer-a"), str(result["alert_id"]))
        assert alert.draft["info"] == [
            {"language": "en-US", "headline": "Sent in error", "description": "Sent in error"}
        ]
        xml = export_cap(session, local_settings, user(session, "officer-a"), alert.id, None)
    assert b"<info>" not in xml
    assert b"<note>Sent in error</note>" in xml


def test_an_officer_can_update_an_imported_alert_and_the_export_references_it(
    database: Database, local_settings: Settings
) -> None:
    original = cap_message(identifier="o-1", sender=TRUSTED_SENDER)
    [result] = run_import(database, local_settings, original, username="officer-a")
    alert_id = str(result["alert_id"])
    with database.session() as session:
        update_alert(
            session,
            local_settings,
            user(session, "officer-a"),
            alert_id,
            AlertUpdate(evacuation_level=5),
        )
        xml = export_cap(session, local_settings, None, alert_id, None)
    update = read_messages(xml, local_settings.max_xml_bytes)[0].alert
    assert update.msg_type == "Update"
    assert update.sender.endswith("@kizuna.local")
    [reference] = update.references
    sender, identifier, _sent = reference.split(",")
    assert (sender, identifier) == (TRUSTED_SENDER, "o-1")
    assert update.infos[0].parameters[0].value == "5"
