"""Every JMA sample and real telegram in the shared data ingests or is skipped by name; the
alerts they make say what JMA said."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from alerts.models import Alert
from integrations.jma.areas import (
    SEISMIC_REGIONS,
    TSUNAMI_REGIONS,
    municipality_from_jma_code,
)
from integrations.jma.report import parse_xml, read_report
from integrations.jma.service import IngestResult, ingest
from integrations.jma.telegrams import PARSED_TYPES, R06_PREFIX, telegram_type
from kizuna.db import Database
from kizuna.settings import Settings
from tests.integrations.jma.factories import code6, retimed, serve

TELEGRAM_DIRS = ("jma/samples", "jma/real")


def _telegram_names() -> list[str]:
    # Collected from KIZUNA_SHARED_DATA when set; the shared_data fixture skips otherwise.
    root = os.environ.get("KIZUNA_SHARED_DATA")
    if not root or not Path(root).is_dir():
        return ["(shared data not available)"]
    return sorted(
        str(path.relative_to(root))
        for directory in TELEGRAM_DIRS
        for path in (Path(root) / directory).rglob("*.xml")
    )


def _parsed_municipalities(data: bytes) -> list[str]:
    """The 6-digit codes a telegram names (to serve them all before ingesting)."""
    report = read_report(parse_xml(data, 10_000_000))
    kind = telegram_type(report.title)
    if kind.parse is None or report.info_type == "取消":
        return []
    return [notice.municipality_code for notice in kind.parse(report).notices]


def ingest_serving_all(database: Database, settings: Settings, data: bytes) -> IngestResult:
    serve(database, _parsed_municipalities(data))
    with database.session() as session:
        return ingest(session, settings, data)


def alert_content(database: Database, result: IngestResult, code: str) -> dict[str, Any]:
    outcome = next(a for a in result.alerts if a.municipality_code == code)
    with database.session() as session:
        alert = session.get(Alert, outcome.alert_id)
        assert alert is not None
        return alert.versions[-1].content if alert.versions else alert.draft


@pytest.mark.parametrize("name", _telegram_names())
def test_every_shared_telegram_ingests_or_is_skipped_by_name(
    name: str, shared_data: Path, database: Database, jma_settings: Settings
) -> None:
    path = shared_data / name
    data = retimed(path, datetime.now(UTC))
    title = read_report(parse_xml(data, 10_000_000)).title

    result = ingest_serving_all(database, jma_settings, data)

    assert result.type_name == title
    if result.skipped:
        assert result.skipped == title
        assert result.type_code, f"{title} is skipped without being a known type"
        assert title not in PARSED_TYPES and not title.startswith(R06_PREFIX)
        return
    assert title in PARSED_TYPES or title.startswith(R06_PREFIX)
    # The file names carry JMA's type code (…_VXSE53.xml, 16_01_01_220728_VXKOii.xml).
    assert result.type_code in path.name
    for alert in result.alerts:
        assert len(alert.municipality_code) == 6 and alert.outcome in ("issued", "cancelled")
        assert alert.identifier.startswith(f"jma:{result.type_code[:4]}")


@pytest.fixture
def shared(shared_data: Path, database: Database, jma_settings: Settings) -> Any:
    """Ingest a shared telegram, moved to now, with every municipality it names served."""

    def run(name: str, minutes_ago: int = 0) -> IngestResult:
        moment = datetime.now(UTC) - timedelta(minutes=minutes_ago)
        return ingest_serving_all(database, jma_settings, retimed(shared_data / name, moment))

    return run


NOTO_TSUNAMI = "jma/real/noto2024/VTSE41_20240101162200_dai_tsunami_keiho_noto.xml"


def test_the_noto_major_tsunami_warning_is_extreme_for_nanao(
    shared: Any, database: Database
) -> None:
    result = shared(NOTO_TSUNAMI)

    nanao = alert_content(database, result, "172022")  # 七尾市 in 石川県能登
    assert (nanao["event"], nanao["severity"], nanao["category"]) == (
        "大津波警報",
        "Extreme",
        "Geo",
    )
    assert nanao["urgency"] == "Immediate" and nanao["evacuation_level"] is None
    assert nanao["info"][0]["language"] == "ja"
    assert "ただちに避難してください" in nanao["info"][0]["headline"]
    assert "石川県能登：大津波警報：発表、予想される高さ ５ｍ" in nanao["info"][0]["description"]
    kanazawa = alert_content(database, result, "172014")  # 金沢市 in 石川県加賀
    assert (kanazawa["event"], kanazawa["severity"]) == ("津波警報", "Severe")
    # 中能登町 has no coast: no tsunami alert there.
    assert "174076" not in {a.municipality_code for a in result.alerts}


def test_lifting_the_noto_tsunami_warnings_cancels_their_alerts(
    shared: Any, database: Database
) -> None:
    warned = shared(NOTO_TSUNAMI, minutes_ago=60)
    lifted = shared("jma/real/noto2024/VTSE41_20240102100000_tsunami_yoho_after_release.xml")

    cancelled = {a.municipality_code: a.alert_id for a in lifted.alerts if a.msg_type == "Cancel"}
    nanao = next(a for a in warned.alerts if a.municipality_code == "172022")
    assert cancelled["172022"] == nanao.alert_id
    with database.session() as session:
        alert = session.get(Alert, nanao.alert_id)
        assert alert is not None and alert.state == "cancelled"
        assert alert.versions[-1].msg_type == "Cancel"


def test_a_tsunami_cancellation_telegram_cancels_the_tsunami_alerts(
    shared: Any, database: Database
) -> None:
    warned = shared(NOTO_TSUNAMI, minutes_ago=10)
    cancelled = shared("jma/samples/VTSE41/38-39_03_01_210805_VTSE41.xml")

    assert cancelled.info_type == "取消"
    assert {a.alert_id for a in cancelled.alerts} == {a.alert_id for a in warned.alerts}
    assert {a.outcome for a in cancelled.alerts} == {"cancelled"}


def test_the_noto_intensity_flash_alerts_the_noto_municipalities(
    shared: Any, database: Database
) -> None:
    result = shared("jma/real/noto2024/VXSE51_20240101161300_shindo_sokuho_noto.xml")

    nanao = alert_content(database, result, "172022")
    assert (nanao["event"], nanao["severity"]) == ("地震（震度６強）", "Extreme")
    kaga = alert_content(database, result, "172014")
    assert (kaga["event"], kaga["severity"]) == ("地震（震度５強）", "Severe")
    assert "東京都２３区 (350)" in result.unmapped_areas  # a region our tables lack


def test_a_small_aftershock_makes_no_alert(shared: Any) -> None:
    result = shared("jma/real/noto2024/VXSE53_20240106234600_aftershock_noto.xml")

    assert result.type_code == "VXSE53" and result.alerts == []


def test_the_intensity_report_alerts_each_city_with_its_own_intensity(
    shared: Any, database: Database
) -> None:
    result = shared("jma/samples/VXSE53/32-35_01_03_240613_VXSE53.xml")

    assert result.type_code == "VXSE53"
    content = alert_content(database, result, "131075")  # 墨田区
    assert (content["event"], content["severity"]) == ("地震（震度３）", "Minor")
    assert result.alerts and all(a.outcome == "issued" for a in result.alerts)


def test_a_heavy_rain_emergency_warning_is_extreme_and_level_5(
    shared: Any, database: Database
) -> None:
    result = shared("jma/samples/VPWW53/15_14_01_170216_VPWW53.xml")

    shinjuku = alert_content(database, result, "131041")
    assert (shinjuku["event"], shinjuku["severity"], shinjuku["evacuation_level"]) == (
        "大雨特別警報",
        "Extreme",
        5,
    )
    assert shinjuku["info"][0]["headline"].startswith("【特別警報（大雨）】")


def test_the_2024_warning_telegrams_carry_their_level(shared: Any, database: Database) -> None:
    rain = shared("jma/samples/VPWW55/15_17_01_250630_VPWW55.xml")
    surge = shared("jma/samples/VPWW57/15_16_02_250630_VPWW57.xml")

    matsue = alert_content(database, rain, "322016")
    assert (matsue["event"], matsue["severity"], matsue["evacuation_level"]) == (
        "レベル３大雨警報",
        "Severe",
        3,
    )
    assert rain.type_code == "VPWW55" and surge.type_code == "VPWW57"
    levels = {
        alert_content(database, surge, a.municipality_code)["evacuation_level"]
        for a in surge.alerts
    }
    assert 4 in levels  # レベル４高潮危険警報


def test_the_landslide_warning_is_level_4_for_odawara(shared: Any, database: Database) -> None:
    result = shared("jma/samples/VXWW50/17_04_01_250630_VXWW50.xml")

    odawara = alert_content(database, result, "142069")
    assert (odawara["event"], odawara["evacuation_level"], odawara["category"]) == (
        "土砂災害警戒情報",
        4,
        "Geo",
    )
    # 小田原市, 真鶴町, 湯河原町: the three the telegram puts under 警戒.
    assert {a.municipality_code for a in result.alerts} == {
        code6("1420600"),
        code6("1438300"),
        code6("1438400"),
    }


def test_the_flood_forecast_reaches_the_towns_in_its_flood_area(
    shared: Any, database: Database
) -> None:
    result = shared("jma/samples/VXKOii/16_02_02_220728_VXKOii.xml")

    takeo = alert_content(database, result, "412066")  # 武雄市
    assert (takeo["event"], takeo["severity"], takeo["evacuation_level"]) == (
        "六角川氾濫警戒情報",
        "Severe",
        3,
    )
    assert "嬉野市" in takeo["info"][0]["description"]
    assert len(result.alerts) == 5


def test_exercise_telegrams_become_exercise_alerts(shared: Any, database: Database) -> None:
    result = shared("jma/samples/VTSE41/32-39_12_02_250206_VTSE41.xml")

    assert result.status == "Exercise"
    with database.session() as session:
        alert = session.get(Alert, result.alerts[0].alert_id)
        assert alert is not None and alert.status == "Exercise"


def test_the_region_tables_name_real_municipalities(shared_data: Path) -> None:
    # JMA's 二次細分区域 list: 7-digit code → name; our tables must agree with it.
    names: dict[str, str] = {}
    for line in (shared_data / "jma/reference/jma_citycode.csv").read_text().splitlines()[1:]:
        code, name = line.split(",")[:2]
        names[code[:5]] = name
    for table in (TSUNAMI_REGIONS, SEISMIC_REGIONS):
        for region, municipalities in table.values():
            for code, name in municipalities:
                assert names.get(code) == name, f"{region}: {code} {name} vs {names.get(code)}"


def test_seven_digit_codes_become_local_government_codes_with_check_digit(
    shared_data: Path,
) -> None:
    lines = (shared_data / "jma/reference/jma_citycode.csv").read_text().splitlines()[1:]
    codes = dict(line.split(",")[:2] for line in lines)

    assert codes["1720200"] == "七尾市"
    assert municipality_from_jma_code("1720200") == "172022"
    assert municipality_from_jma_code("1410011") == "141003"  # 横浜市北部 → 横浜市
    assert municipality_from_jma_code("0000000") is None
    assert all(municipality_from_jma_code(code) for code in codes)
