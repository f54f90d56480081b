"""Reading L-Alert XML: the published samples and our own, and every hostile or broken input."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from integrations.lalert.mapping import skip_reason, to_incoming
from integrations.lalert.reader import read_message
from integrations.lalert.vocabulary import POINT_RADIUS_KM, sort_level
from integrations.xml import TooLarge
from kizuna.errors import InvalidInput
from tests.integrations.lalert.factories import DetailSpec, evacuation_message, shelter_message

LIMIT = 5_000_000

# file → (municipality, 警戒レベル, status, number of circles)
SAMPLES = {
    # 加古川市: no Detail at all; the Headline says 避難勧告 (level 4 before 2021).
    "commons_v3_evacuation_kakogawa_sample1.xml": ("282103", 4, "Actual", 0),
    "commons_v4ns_evacuation_kakogawa_sample3.xml": ("282103", 4, "Actual", 0),
    # 千代田区: Detail Sort 避難準備 (level 3), 12 町丁目 points, a Test distribution.
    "commons_v4_soap_publish_evacuation_chiyoda_test.xml": ("131016", 3, "Test", 12),
}


def test_the_published_sample_set_is_the_one_these_tests_describe(shared_data: Path) -> None:
    names = {path.name for path in (shared_data / "lalert" / "messages").glob("*.xml")}
    assert names == set(SAMPLES)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_each_published_sample_reads_as_an_evacuation_order(shared_data: Path, name: str) -> None:
    municipality, level, status, circles = SAMPLES[name]
    message = read_message((shared_data / "lalert" / "messages" / name).read_bytes(), LIMIT)
    assert skip_reason(message) is None
    incoming = to_incoming(message)
    assert incoming.municipality_code == municipality
    assert incoming.content["evacuation_level"] == level
    assert incoming.status == status
    assert incoming.msg_type == "Alert"
    assert incoming.content["info"][0]["language"] == "ja"
    assert len(incoming.content["area"]["circles"] or []) == circles


def test_the_chiyoda_sample_keeps_its_japanese_text_codes_and_points(shared_data: Path) -> None:
    path = shared_data / "lalert/messages/commons_v4_soap_publish_evacuation_chiyoda_test.xml"
    incoming = to_incoming(read_message(path.read_bytes(), LIMIT))
    info = incoming.content["info"][0]
    assert info["headline"] == "東京都千代田区 避難勧告・指示情報 試験災害"
    assert info["description"].startswith("避難準備  発令  04月10日午後06時55分")
    assert incoming.content["event"] == "試験災害"
    assert incoming.sender == "editor.foo.test"
    assert incoming.identifier == "74ee219a-970d-417f-a9ab-a9ff1d3fe316#1"
    # commons:urgency/severity/certainty are taken as given.
    assert (incoming.content["urgency"], incoming.content["severity"]) == ("Future", "Severe")
    first = incoming.content["area"]["circles"][0]
    # "35.691634,139.756685,0" is lat,lon,radius; radius 0 is a 町丁目's representative point.
    assert first == {"lon": 139.756685, "lat": 35.691634, "radius_km": POINT_RADIUS_KM}
    places = incoming.payload["details"][0]["places"]
    assert places[0]["name"] == "一ツ橋一丁目"
    assert places[0]["chome_code"] == "131010001001"
    assert [p["chome_code"] for p in places][-1] == "131010010004"


def test_the_two_kakogawa_encodings_are_the_same_message(shared_data: Path) -> None:
    folder = shared_data / "lalert" / "messages"
    v3 = to_incoming(
        read_message((folder / "commons_v3_evacuation_kakogawa_sample1.xml").read_bytes(), LIMIT)
    )
    v4 = to_incoming(
        read_message((folder / "commons_v4ns_evacuation_kakogawa_sample3.xml").read_bytes(), LIMIT)
    )
    assert v3.key == v4.key
    assert v3.content == v4.content
    assert v3.payload["level_source"] == "Headline"


@pytest.mark.parametrize(
    ("sort", "level"),
    [
        ("高齢者等避難", 3),
        ("避難準備・高齢者等避難開始", 3),
        ("避難勧告", 4),
        ("避難指示", 4),
        ("避難指示（緊急）", 4),
        ("緊急安全確保", 5),
        ("警戒区域", 5),
        ("避難所開設", None),
    ],
)
def test_each_sort_maps_to_its_evacuation_level(sort: str, level: int | None) -> None:
    assert sort_level(sort) == level


def test_the_strongest_order_in_force_decides_and_lifted_areas_are_left_out() -> None:
    xml = evacuation_message(
        details=[
            DetailSpec("高齢者等避難", "発令", [(35.01, 139.01, 0.3, None)]),
            DetailSpec("緊急安全確保", "発令", [(35.02, 139.02, 0.4, None)]),
            DetailSpec("避難指示", "解除", [(35.03, 139.03, 0.5, None)]),
        ]
    )
    incoming = to_incoming(read_message(xml, LIMIT))
    assert incoming.content["evacuation_level"] == 5
    assert incoming.msg_type == "Alert"
    radii = sorted(c["radius_km"] for c in incoming.content["area"]["circles"])
    assert radii == [0.3, 0.4]
    assert [d["issue_or_lift"] for d in incoming.payload["details"]] == ["発令", "発令", "解除"]


def test_a_message_lifting_every_order_is_a_cancel_referencing_the_previous_revision() -> None:
    xml = evacuation_message(
        document_id="doc-1", revision=3, previous=2, details=[DetailSpec(issue_or_lift="解除")]
    )
    incoming = to_incoming(read_message(xml, LIMIT))
    assert incoming.msg_type == "Cancel"
    assert incoming.identifier == "doc-1#3"
    assert incoming.references == ["lalert-node.example,doc-1#2"]
    assert incoming.content["evacuation_level"] == 4


def test_a_drill_stays_a_drill_whatever_the_envelope_says() -> None:
    xml = evacuation_message(status="Actual", control_status="訓練")
    assert to_incoming(read_message(xml, LIMIT)).status == "Exercise"


def test_a_soap_wrapped_message_reads_like_a_bare_one() -> None:
    sent = datetime.now(UTC).replace(microsecond=0)  # one moment for both, or a second may tick
    bare = read_message(evacuation_message(document_id="same", sent=sent), LIMIT)
    wrapped = read_message(evacuation_message(document_id="same", soap=True, sent=sent), LIMIT)
    assert to_incoming(wrapped).content == to_incoming(bare).content


def test_a_shelter_message_is_recognised_and_skipped_with_a_reason() -> None:
    skipped = skip_reason(read_message(shelter_message(), LIMIT))
    assert skipped is not None
    assert skipped.reason == "shelter messages (避難所情報) are not imported yet"


LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
    b'<edxlde:EDXLDistribution xmlns:edxlde="urn:oasis:names:tc:emergency:EDXL:DE:1.0">'
    b"<edxlde:distributionID>&lol3;</edxlde:distributionID></edxlde:EDXLDistribution>"
)
XXE = (
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY secret SYSTEM "file:///etc/passwd">]>'
    b'<edxlde:EDXLDistribution xmlns:edxlde="urn:oasis:names:tc:emergency:EDXL:DE:1.0">'
    b"<edxlde:distributionID>&secret;</edxlde:distributionID></edxlde:EDXLDistribution>"
)


def _good() -> str:
    return evacuation_message(document_id="doc-9").decode()


BAD_INPUTS: list[tuple[str, bytes, str]] = [
    ("empty body", b"  ", "body"),
    ("not XML", b'{"json": true}', "body"),
    ("truncated XML", _good()[:400].encode(), "body"),
    ("billion laughs", LAUGHS, "body"),
    ("external entity", XXE, "body"),
    (
        "CAP instead of EDXL",
        b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"/>',
        "EDXLDistribution",
    ),
    (
        "unknown namespace inside",
        _good()
        .replace(
            "<pcx_ev:ComplementaryInfo>", '<x:Evil xmlns:x="urn:evil"/><pcx_ev:ComplementaryInfo>'
        )
        .encode(),
        "Evil",
    ),
    ("no documentID", _good().replace("doc-9", "").encode(), "commons:documentID"),
    (
        "bad revision",
        _good().replace(">1</commons:documentRevision", ">one</commons:documentRevision").encode(),
        "commons:documentRevision",
    ),
    (
        "bad check digit",
        _good().replace("999989", "999980").encode(),
        "commons:targetArea[0].jisX0402",
    ),
    (
        "unknown sort",
        _good().replace("<pcx_ev:Sort>避難指示", "<pcx_ev:Sort>避難したい").encode(),
        "EvacuationOrder.Detail[0].Sort",
    ),
    (
        "bad IssueOrLift",
        _good().replace(">発令<", ">延期<").encode(),
        "EvacuationOrder.Detail[0].IssueOrLift",
    ),
    (
        "lon,lat circle",
        _good().replace("35.05,139.02,0.0", "139.02,35.05,0.0").encode(),
        "EvacuationOrder.Detail[0].Areas.Area[0].Location.circle",
    ),
    (
        "unknown status",
        _good().replace(">Actual<", ">Maybe<").encode(),
        "edxlde:distributionStatus",
    ),
    (
        "bad time",
        _good().replace("<edxlde:dateTimeSent>20", "<edxlde:dateTimeSent>yesterday 20").encode(),
        "edxlde:dateTimeSent",
    ),
]


@pytest.mark.parametrize(("case", "data", "field"), BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_broken_or_hostile_messages_are_refused_naming_what_is_wrong(
    case: str, data: bytes, field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        to_incoming(read_message(data, LIMIT))
    assert refused.value.field == field, refused.value.message
    assert "root:" not in refused.value.message  # nothing of /etc/passwd leaks into the answer


def test_a_message_over_the_size_limit_is_refused_before_parsing() -> None:
    with pytest.raises(TooLarge) as refused:
        read_message(b"<" * 2048, 1024)
    assert refused.value.status_code == 413
