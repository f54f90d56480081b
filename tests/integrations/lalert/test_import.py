"""Importing L-Alert messages into alerts: municipality, level, areas, and revision chains."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from shapely.geometry import Point, shape
from sqlalchemy import func, select

from alerts.models import Alert, ExternalMessage
from kizuna.db import Database
from kizuna.settings import Settings
from tests.integrations.lalert.factories import (
    DetailSpec,
    evacuation_message,
    run_import,
    shelter_message,
)

TRUSTED = "lalert-node.example"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, lalert_trusted_senders=[TRUSTED])


def load(database: Database, alert_id: str | None) -> Alert:
    assert alert_id is not None
    with database.session() as session:
        alert = session.get(Alert, alert_id)
        assert alert is not None
        return alert


SAMPLES = {
    "commons_v3_evacuation_kakogawa_sample1.xml": ("282103", 4),
    "commons_v4_soap_publish_evacuation_chiyoda_test.xml": ("131016", 3),
    "commons_v4ns_evacuation_kakogawa_sample3.xml": ("282103", 4),
}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_every_published_message_imports_for_its_municipality_and_level(
    database: Database, settings: Settings, shared_data: Path, name: str
) -> None:
    municipality, level = SAMPLES[name]
    data = (shared_data / "lalert" / "messages" / name).read_bytes()
    result = run_import(database, settings, data, force_trusted=True)
    # The samples are from 2010 and 2013: long expired, so even trusted they stay drafts.
    assert result.outcome == "draft"
    alert = load(database, result.alert_id)
    assert alert.municipality_code == municipality
    assert alert.draft["evacuation_level"] == level
    assert alert.draft["info"][0]["language"] == "ja"
    assert alert.origin is not None and alert.origin["format"] == "lalert"


def test_chome_codes_and_head_counts_are_kept_in_the_payload(
    database: Database, settings: Settings
) -> None:
    result = run_import(database, settings, evacuation_message())
    alert = load(database, result.alert_id)
    assert alert.origin is not None
    place = alert.origin["payload"]["details"][0]["places"][0]
    assert place["chome_code"] == "999980001001"
    assert (place["head_count"], place["households"]) == (120, 45)


def test_a_trusted_sender_is_issued_over_its_circles_and_others_stay_drafts(
    database: Database, settings: Settings
) -> None:
    trusted = run_import(database, settings, evacuation_message())
    assert trusted.outcome == "issued"
    alert = load(database, trusted.alert_id)
    area = shape(alert.versions[0].area_geometry)
    assert area.contains(Point(139.02, 35.05))
    assert not area.contains(Point(139.09, 35.09))  # the rest of the city is not ordered out
    untrusted = run_import(database, settings, evacuation_message(sender="someone.example"))
    assert untrusted.outcome == "draft"
    assert load(database, untrusted.alert_id).state == "draft"


def test_an_update_and_a_lift_chain_to_the_same_alert(
    database: Database, settings: Settings
) -> None:
    document = str(uuid.uuid4())
    first = run_import(database, settings, evacuation_message(document))
    raised = run_import(
        database,
        settings,
        evacuation_message(document, revision=2, previous=1, details=[DetailSpec("緊急安全確保")]),
    )
    lifted = run_import(
        database,
        settings,
        evacuation_message(
            document, revision=3, previous=2, details=[DetailSpec("緊急安全確保", "解除")]
        ),
    )
    assert (first.outcome, raised.outcome, lifted.outcome) == ("issued", "updated", "cancelled")
    assert first.alert_id == raised.alert_id == lifted.alert_id
    alert = load(database, first.alert_id)
    assert alert.state == "cancelled"
    assert [v.msg_type for v in alert.versions] == ["Alert", "Update", "Cancel"]
    assert [v.content["evacuation_level"] for v in alert.versions] == [4, 5, 5]
    assert f"{TRUSTED},{document}#2" in alert.versions[2].references


def test_an_update_still_finds_its_alert_when_a_revision_in_between_was_missed(
    database: Database, settings: Settings
) -> None:
    document = str(uuid.uuid4())
    first = run_import(database, settings, evacuation_message(document))
    third = run_import(database, settings, evacuation_message(document, revision=3, previous=2))
    assert third.outcome == "updated"
    assert third.alert_id == first.alert_id


def test_the_same_message_twice_or_relayed_by_another_node_is_a_duplicate(
    database: Database, settings: Settings
) -> None:
    document = str(uuid.uuid4())
    first = run_import(database, settings, evacuation_message(document))
    again = run_import(database, settings, evacuation_message(document))
    relayed = run_import(database, settings, evacuation_message(document, sender="other.node"))
    assert (again.outcome, relayed.outcome) == ("duplicate", "duplicate")
    assert first.alert_id == again.alert_id == relayed.alert_id
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Alert)) == 1


def test_a_lift_of_an_alert_we_never_saw_is_kept_as_a_draft_only(
    database: Database, settings: Settings
) -> None:
    xml = evacuation_message(revision=2, previous=1, details=[DetailSpec(issue_or_lift="解除")])
    result = run_import(database, settings, xml)
    assert (result.outcome, result.msg_type) == ("draft", "Cancel")


def test_a_shelter_message_is_skipped_and_stores_nothing(
    database: Database, settings: Settings
) -> None:
    result = run_import(database, settings, shelter_message())
    assert result.outcome == "skipped"
    assert result.reason == "shelter messages (避難所情報) are not imported yet"
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Alert)) == 0
        assert session.scalar(select(func.count()).select_from(ExternalMessage)) == 0
