"""A warning's life from JMA telegrams: issued, updated, lifted (解除), cancelled (取消)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select

from alerts.models import Alert, ExternalMessage
from integrations.jma.service import IngestResult, ingest
from integrations.xml import TooLarge
from kizuna.db import Database
from kizuna.errors import InvalidInput
from kizuna.settings import Settings
from tests.integrations.jma.factories import (
    NANAO,
    SUZU,
    WAJIMA,
    code6,
    envelope,
    flood,
    intensity_flash,
    landslide,
    now_jst,
    quake_detail,
    serve,
    volcano_flash,
    weather,
)


@dataclass
class Seen:
    """An alert as an officer would look at it."""

    state: str
    municipality_code: str
    versions: list[dict[str, Any]]
    draft: dict[str, Any]


def run(database: Database, settings: Settings, data: bytes) -> IngestResult:
    with database.session() as session:
        return ingest(session, settings, data)


def look(database: Database, alert_id: str) -> Seen:
    with database.session() as session:
        alert = session.get(Alert, alert_id)
        assert alert is not None
        versions = [
            {
                "msg_type": v.msg_type,
                "identifier": v.identifier,
                "sender": v.sender,
                "references": v.references,
                "content": v.content,
                "status": v.status,
            }
            for v in alert.versions
        ]
        return Seen(alert.state, alert.municipality_code, versions, alert.draft)


def count_alerts(database: Database) -> int:
    with database.session() as session:
        return int(session.scalar(select(func.count()).select_from(Alert)) or 0)


@pytest.fixture
def noto(database: Database) -> Database:
    """七尾市 and 輪島市 are served here; 珠洲市 is not."""
    serve(database, [code6(NANAO), code6(WAJIMA)])
    return database


def test_a_landslide_warning_becomes_an_issued_alert_per_served_municipality(
    noto: Database, jma_settings: Settings
) -> None:
    sent = now_jst()
    result = run(noto, jma_settings, landslide(sent, {NANAO: "発表", WAJIMA: "なし", SUZU: "発表"}))

    assert result.type_code == "VXWW50"
    assert [a.municipality_code for a in result.alerts] == ["172022"]
    assert result.not_served == [code6(SUZU)]
    alert = look(noto, result.alerts[0].alert_id)
    assert alert.state == "issued" and alert.municipality_code == "172022"
    version = alert.versions[0]
    assert version["msg_type"] == "Alert"
    assert version["sender"] == "jma:金沢地方気象台"
    assert version["identifier"].startswith("jma:VXWW50:石川県土砂災害警戒情報:1:")
    assert version["identifier"].endswith(":発表:172022")
    content = version["content"]
    assert content["event"] == "土砂災害警戒情報"
    assert (content["severity"], content["category"], content["evacuation_level"]) == (
        "Severe",
        "Geo",
        4,
    )
    assert content["area"]["municipality_codes"] == ["172022"]
    assert content["info"][0]["language"] == "ja"
    assert (
        content["info"][0]["headline"]
        == "【石川県土砂災害警戒情報】土砂災害の危険度が高まっています。"
    )


def test_without_auto_issue_telegrams_become_drafts_for_review(
    noto: Database, jma_settings: Settings
) -> None:
    settings = jma_settings.model_copy(update={"jma_auto_issue": False})
    result = run(noto, settings, landslide(now_jst(), {NANAO: "発表"}))

    assert [a.outcome for a in result.alerts] == ["draft"]
    assert look(noto, result.alerts[0].alert_id).state == "draft"


def test_the_next_serial_updates_and_a_lifting_cancels_the_earlier_alert(
    noto: Database, jma_settings: Settings
) -> None:
    first = run(noto, jma_settings, landslide(now_jst(-20), {NANAO: "発表", WAJIMA: "発表"}))
    nanao, wajima = (a.alert_id for a in first.alerts)

    second = run(
        noto,
        jma_settings,
        landslide(now_jst(-10), {NANAO: "継続", WAJIMA: "解除"}, serial="2"),
    )

    outcomes = {a.municipality_code: (a.alert_id, a.msg_type, a.outcome) for a in second.alerts}
    assert outcomes[code6(NANAO)] == (nanao, "Update", "updated")
    assert outcomes[code6(WAJIMA)] == (wajima, "Cancel", "cancelled")
    lifted = look(noto, wajima)
    assert lifted.state == "cancelled"
    assert [v["msg_type"] for v in lifted.versions] == ["Alert", "Cancel"]
    # The Cancel names the telegram it ends, as CAP references do.
    assert any(lifted.versions[0]["identifier"] in ref for ref in lifted.versions[1]["references"])
    assert look(noto, nanao).state == "issued"

    # A third telegram still saying なし for 輪島市 has nothing left to cancel there.
    third = run(
        noto, jma_settings, landslide(now_jst(), {NANAO: "解除", WAJIMA: "なし"}, serial="3")
    )
    assert [(a.municipality_code, a.msg_type) for a in third.alerts] == [(code6(NANAO), "Cancel")]


def test_a_cancellation_telegram_cancels_every_alert_of_the_event(
    noto: Database, jma_settings: Settings
) -> None:
    sent = now_jst(-5)
    first = run(noto, jma_settings, landslide(sent, {NANAO: "発表", WAJIMA: "発表"}))

    # 取消 names no municipality: it withdraws the telegram of the same EventID.
    cancel = envelope(
        "土砂災害警戒情報",
        "石川県土砂災害警戒情報",
        now_jst(),
        info_type="取消",
        event_id="石川県土砂災害警戒情報",
        serial="1",
        headline="石川県土砂災害警戒情報を取り消します。",
    )
    result = run(noto, jma_settings, cancel)

    assert sorted(a.alert_id for a in result.alerts) == sorted(a.alert_id for a in first.alerts)
    assert {a.msg_type for a in result.alerts} == {"Cancel"}
    for outcome in result.alerts:
        alert = look(noto, outcome.alert_id)
        assert alert.state == "cancelled"
        reason = alert.versions[-1]["content"]["cancel_reason"]
        assert reason.endswith("石川県土砂災害警戒情報を取り消します。")
    assert run(noto, jma_settings, cancel).alerts == []  # nothing left to cancel


def test_a_correction_updates_the_alert_it_corrects(noto: Database, jma_settings: Settings) -> None:
    sent = now_jst()
    first = run(noto, jma_settings, landslide(sent, {NANAO: "発表"}))
    corrected = landslide(sent, {NANAO: "発表"}, info_type="訂正", headline="訂正後の見出し")

    result = run(noto, jma_settings, corrected)

    assert [(a.msg_type, a.outcome) for a in result.alerts] == [("Update", "updated")]
    alert = look(noto, first.alerts[0].alert_id)
    assert alert.versions[-1]["content"]["info"][0]["headline"].endswith("訂正後の見出し")


def test_the_same_telegram_twice_changes_nothing(noto: Database, jma_settings: Settings) -> None:
    telegram = landslide(now_jst(), {NANAO: "発表"})
    run(noto, jma_settings, telegram)

    again = run(noto, jma_settings, telegram)

    assert [a.outcome for a in again.alerts] == ["duplicate"]
    assert not again.changed
    assert count_alerts(noto) == 1


def test_the_h27_warning_telegram_repeats_the_one_issued_beside_it(
    noto: Database, jma_settings: Settings
) -> None:
    sent = now_jst()
    kinds = {NANAO: [("大雨警報", "発表"), ("雷注意報", "継続")]}
    run(noto, jma_settings, weather(sent, kinds))

    twin = run(noto, jma_settings, weather(sent, kinds, title="気象警報・注意報（Ｈ２７）"))

    assert twin.type_code == "VPWW54"
    assert [a.outcome for a in twin.alerts] == ["duplicate"]
    assert count_alerts(noto) == 1


def test_warnings_map_to_severity_and_evacuation_level(
    noto: Database, jma_settings: Settings
) -> None:
    kinds = {
        NANAO: [("大雨特別警報", "発表"), ("洪水警報", "継続"), ("雷注意報", "継続")],
        WAJIMA: [("乾燥注意報", "発表")],
    }
    result = run(noto, jma_settings, weather(now_jst(), kinds))

    contents = {
        a.municipality_code: look(noto, a.alert_id).versions[0]["content"] for a in result.alerts
    }
    nanao, wajima = contents[code6(NANAO)], contents[code6(WAJIMA)]
    assert (nanao["severity"], nanao["evacuation_level"]) == ("Extreme", 5)
    assert nanao["event"] == "大雨特別警報・洪水警報・雷注意報"
    assert "大雨特別警報（発表）" in nanao["info"][0]["description"]
    assert (wajima["severity"], wajima["evacuation_level"]) == ("Minor", None)


def test_lifting_every_warning_of_a_municipality_cancels_its_alert(
    noto: Database, jma_settings: Settings
) -> None:
    first = run(noto, jma_settings, weather(now_jst(-30), {NANAO: [("大雨警報", "発表")]}))

    lifted = run(noto, jma_settings, weather(now_jst(), {NANAO: [("大雨警報", "解除")]}))

    assert [(a.alert_id, a.msg_type) for a in lifted.alerts] == [
        (first.alerts[0].alert_id, "Cancel")
    ]
    assert look(noto, first.alerts[0].alert_id).state == "cancelled"


def test_an_older_telegram_arriving_late_does_not_undo_a_newer_one(
    noto: Database, jma_settings: Settings
) -> None:
    run(noto, jma_settings, landslide(now_jst(-10), {NANAO: "発表"}, serial="1"))
    run(noto, jma_settings, landslide(now_jst(), {NANAO: "解除"}, serial="3"))

    late = run(noto, jma_settings, landslide(now_jst(-5), {NANAO: "継続"}, serial="2"))

    assert late.alerts == [] and late.stale == [code6(NANAO)]


def test_training_telegrams_become_exercise_alerts(noto: Database, jma_settings: Settings) -> None:
    telegram = landslide(now_jst(), {NANAO: "発表"}).replace(
        "<Status>通常</Status>".encode(), "<Status>訓練</Status>".encode()
    )
    result = run(noto, jma_settings, telegram)

    assert look(noto, result.alerts[0].alert_id).versions[0]["status"] == "Exercise"


def test_a_known_type_we_do_not_use_is_skipped_by_name(
    noto: Database, jma_settings: Settings
) -> None:
    result = run(noto, jma_settings, volcano_flash(now_jst()))

    assert (result.skipped, result.type_code) == ("噴火速報", "VFVO56")
    assert result.alerts == [] and count_alerts(noto) == 0


BAD_TELEGRAMS = {
    "not XML": (b"this is not xml", "body", "not well-formed"),
    "empty": (b"   ", "body", "empty"),
    "unknown root": (
        b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"/>',
        "body",
        "not a JMA",
    ),
    "entity expansion": (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
        b'<Report xmlns="http://xml.kishou.go.jp/jmaxml1/">&b;</Report>',
        "body",
        "DOCTYPE",
    ),
    "no report time": (
        landslide(now_jst(), {NANAO: "発表"})
        .replace(b"<ReportDateTime>", b"<ReportDateTimeX>")
        .replace(b"</ReportDateTime>", b"</ReportDateTimeX>"),
        "Head/ReportDateTime",
        "missing",
    ),
    "unknown status": (
        landslide(now_jst(), {NANAO: "発表"}).replace(
            "<Status>通常</Status>".encode(), b"<Status>live</Status>"
        ),
        "Control/Status",
        "live",
    ),
    "no warning list": (
        envelope("土砂災害警戒情報", "x", now_jst(), event_id="e", serial="1"),
        "Body/Warning",
        "土砂災害警戒情報",
    ),
}


@pytest.mark.parametrize("case", list(BAD_TELEGRAMS))
def test_bad_telegrams_are_refused_naming_what_is_wrong_and_store_nothing(
    case: str, noto: Database, jma_settings: Settings
) -> None:
    data, field, words = BAD_TELEGRAMS[case]

    with pytest.raises(InvalidInput) as refused:
        run(noto, jma_settings, data)

    assert refused.value.field == field
    assert words in refused.value.message
    assert count_alerts(noto) == 0
    with noto.session() as session:
        assert session.scalar(select(func.count()).select_from(ExternalMessage)) == 0


def test_a_telegram_larger_than_the_limit_is_refused(noto: Database, tmp_path: Any) -> None:
    settings = Settings(data_dir=tmp_path, max_xml_bytes=1024, jma_auto_issue=True)
    big = landslide(now_jst(), {NANAO: "発表"}, headline="あ" * 2000)

    # 413, like every XML import: the body is refused before it is parsed.
    with pytest.raises(TooLarge, match="at most 1024"):
        run(noto, settings, big)


def test_a_designated_city_warning_reaches_the_wards_we_hold(
    database: Database, jma_settings: Settings
) -> None:
    # MLIT N03 boundaries split 京都市 into wards; JMA's warning names the city (2610000).
    serve(database, ["261017", "261025"])

    result = run(database, jma_settings, weather(now_jst(), {"2610000": [("大雨警報", "発表")]}))

    assert sorted(a.municipality_code for a in result.alerts) == ["261017", "261025"]


def test_ward_intensities_reach_their_city_as_the_strongest_one(
    database: Database, jma_settings: Settings
) -> None:
    serve(database, ["141003"])  # 横浜市 held as one city
    cities = {"1410100": "3", "1410400": "5-", "1411800": "2"}  # 鶴見区, 中区, 都筑区

    result = run(database, jma_settings, quake_detail(now_jst(), cities, event_id="20250101000000"))

    assert [a.municipality_code for a in result.alerts] == ["141003"]
    content = look(database, result.alerts[0].alert_id).versions[0]["content"]
    assert (content["event"], content["severity"]) == ("地震（震度５弱）", "Moderate")


def test_municipalities_shaken_below_intensity_3_get_no_alert(
    noto: Database, jma_settings: Settings
) -> None:
    cities = {NANAO: "6+", WAJIMA: "2"}

    result = run(noto, jma_settings, quake_detail(now_jst(), cities, event_id="20250101000001"))

    assert [a.municipality_code for a in result.alerts] == [code6(NANAO)]
    content = look(noto, result.alerts[0].alert_id).versions[0]["content"]
    assert (content["event"], content["severity"], content["category"]) == (
        "地震（震度６強）",
        "Extreme",
        "Geo",
    )
    assert "能登半島沖" in content["info"][0]["description"]


def test_the_headline_skips_section_labels_and_names_the_telegram(
    noto: Database, jma_settings: Settings
) -> None:
    telegram = landslide(
        now_jst(), {NANAO: "発表"}, headline="＜概況＞\n　降り続く大雨のため危険です。"
    )

    result = run(noto, jma_settings, telegram)

    info = look(noto, result.alerts[0].alert_id).versions[0]["content"]["info"][0]
    assert info["headline"] == "【石川県土砂災害警戒情報】降り続く大雨のため危険です。"
    assert info["description"].startswith("＜概況＞")


def test_an_overlong_event_id_is_refused(noto: Database, jma_settings: Settings) -> None:
    telegram = landslide(now_jst(), {NANAO: "発表"}).replace(
        "<EventID>石川県".encode(), ("<EventID>" + "x" * 100).encode()
    )

    with pytest.raises(InvalidInput) as refused:
        run(noto, jma_settings, telegram)

    assert refused.value.field == "Head/EventID"


def test_the_detailed_report_withdraws_a_regional_alert_where_shaking_was_weak(
    noto: Database, jma_settings: Settings
) -> None:
    event = "20250101000002"
    flash = run(noto, jma_settings, intensity_flash(now_jst(-3), {"390": "5-"}, event_id=event))
    assert {a.municipality_code for a in flash.alerts} == {code6(NANAO), code6(WAJIMA)}

    detail = run(
        noto, jma_settings, quake_detail(now_jst(), {NANAO: "5-", WAJIMA: "2"}, event_id=event)
    )

    by_code = {a.municipality_code: a.msg_type for a in detail.alerts}
    assert by_code == {code6(NANAO): "Update", code6(WAJIMA): "Cancel"}


def test_a_river_flood_forecast_alerts_its_flood_area_and_its_lifting_cancels(
    noto: Database, jma_settings: Settings
) -> None:
    danger = run(
        noto, jma_settings, flood(now_jst(-5), "氾濫危険情報", [NANAO, WAJIMA], serial="1")
    )
    nanao = look(noto, danger.alerts[0].alert_id).versions[0]["content"]
    assert (nanao["event"], nanao["severity"], nanao["evacuation_level"]) == (
        "能登川氾濫危険情報",
        "Severe",
        4,
    )

    # The lifting names no town: it ends every alert of the river section.
    lifted = run(noto, jma_settings, flood(now_jst(), "氾濫注意情報解除", [], serial="2"))

    assert sorted(a.alert_id for a in lifted.alerts) == sorted(a.alert_id for a in danger.alerts)
    assert {a.outcome for a in lifted.alerts} == {"cancelled"}
