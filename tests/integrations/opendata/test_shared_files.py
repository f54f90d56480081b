"""Every published shelter file in ../shared/data/shelters imports, and imports again unchanged."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from integrations.opendata.formats import make_options
from integrations.opendata.service import FileImport, import_file
from kizuna.areas import import_boundaries
from kizuna.errors import InvalidInput
from shelters.models import Shelter, ShelterHistory

ALL_HAZARDS = sorted(
    ["flood", "landslide", "storm_surge", "earthquake", "tsunami", "fire", "inland_flood"]
)
TOKUSHIMA_BOUNDARIES = "boundaries/n03_simplified/N03-21_36_210101_tokushima.geojson"


@dataclass(frozen=True)
class Known:
    """A row we looked up by hand in the published file."""

    name: str
    kind: str
    hazards: list[str]
    code: str
    capacity: int | None = None
    phone: str | None = None
    source_id: str | None = None


@dataclass(frozen=True)
class Case:
    path: str
    shelters: int
    known: Known
    history: int = 0
    municipality: str | None = None
    boundaries: bool = False
    format: str = ""
    encoding: str = "utf-8"


CASES = [
    Case(
        "gsi_csv/26343_ide_shitei-kinkyu-hinanbasho.csv",
        8,
        Known(
            "井手町立老人福祉センター「玉泉苑」",
            "evacuation_site",
            ["earthquake", "fire", "flood", "inland_flood", "landslide"],
            "263435",
            source_id="E2634300003201",
        ),
        format="gsi_csv",
    ),
    Case(
        "gsi_csv/26343_ide_shitei-hinanjo.csv",
        8,
        Known("井手町立玉川保育園", "welfare_shelter", [], "263435", source_id="E2634300001121"),
        format="gsi_csv",
    ),
    Case(
        "gsi_geojson/emergency_131016_chiyoda.geojson",
        28,
        Known(
            "神田一橋中学校",
            "evacuation_site",
            ["earthquake", "flood", "inland_flood", "landslide"],
            "131016",
            source_id="E1310100005201",
        ),
        format="gsi_geojson",
    ),
    Case(
        "gsi_geojson/emergency_172022_nanao.geojson",
        109,
        Known(
            "北大呑地区コミュニティセンター",
            "evacuation_site",
            ALL_HAZARDS,
            "172022",
            source_id="E1720200002201",
        ),
        format="gsi_geojson",
    ),
    Case(
        "gsi_geojson/emergency_172049_wajima.geojson",
        78,
        Known(
            "ホテル ルートイン輪島",
            "evacuation_site",
            ["tsunami"],
            "172049",
            source_id="E1720400001201",
        ),
        format="gsi_geojson",
    ),
    Case(
        "gsi_geojson/evacuation_131016_chiyoda.geojson",
        15,
        Known("神田一橋中学校", "shelter", [], "131016", source_id="E1310100005112"),
        format="gsi_geojson",
    ),
    Case(
        "gsi_geojson/evacuation_172022_nanao.geojson",
        82,
        Known(
            "小規模多機能型居宅介護施設あっとほーむコモド",
            "welfare_shelter",
            [],
            "172022",
            source_id="E1720200020121",
        ),
        format="gsi_geojson",
    ),
    Case(
        "gsi_geojson/evacuation_172049_wajima.geojson",
        48,
        # Full-width （） and ６ normalised (NFKC).
        Known("輪島市立河原田小学校(体育館)", "shelter", [], "172049", source_id="E1720400003111"),
        format="gsi_geojson",
    ),
    Case(
        "nanao_2024/nanao_reference_shelters_standard_columns.csv",
        112,
        # 屋内1,371人／屋外5,470人（面積の1/2）: an evacuation site counts both.
        Known(
            "七尾中学校", "evacuation_site", ALL_HAZARDS, "172022", 6841, source_id="CC0000000505"
        ),
        # Three rows (NEW001-003) leave 所在地_全国地方公共団体コード empty.
        municipality="172022",
        format="standard_csv",
    ),
    Case(
        "tokushima/tokushima_pref_shelters_sjis.csv",
        1282,
        Known("鳴門渦潮高等学校(体育館)", "shelter", ["earthquake", "tsunami"], "362026", None),
        boundaries=True,
        format="generic_csv",
        encoding="cp932",
    ),
    Case(
        "imabari_2024/imabari_shelter_status_typhoon10_2024.csv",
        31,  # 31 shelters, reported 19 times over the typhoon
        Known("吉海学習交流館", "shelter", [], "382027", 336, "0897-84-4700"),
        history=573,
        municipality="382027",
        format="generic_csv",
        encoding="utf-8-bom",
    ),
    Case(
        "nanao_2024/open_shelter_Nanao-shi_2024-01-09-1800.csv",
        29,
        Known("山王小学校", "evacuation_site", ALL_HAZARDS, "172022", 3830, "0767-57-5018"),
        history=29,
        municipality="172022",
        format="standard_csv",
    ),
    Case(
        "nanao_2024/open_shelter_Nanao-shi_2024-01-14-1800.csv",
        28,
        Known("寄合い処みそぎ", "evacuation_site", [], "172022", source_id="NEW001"),
        history=28,
        municipality="172022",
        format="standard_csv",
    ),
    Case(
        "nanao_2024/open_shelter_Nanao-shi_2024-02-01-0600.csv",
        24,
        Known(
            "御祓地区コミュニティセンター",
            "evacuation_site",
            [h for h in ALL_HAZARDS if h != "fire"],
            "172022",
            191,  # 屋内191人／屋外0人(面積の1/2)
        ),
        history=24,
        municipality="172022",
        format="standard_csv",
    ),
    Case(
        "nanao_2024/open_shelter_Nanao-shi_2024-03-01-0600.csv",
        19,
        Known("山王小学校", "evacuation_site", ALL_HAZARDS, "172022", 3830),
        history=19,
        municipality="172022",
        format="standard_csv",
    ),
    Case(
        "nanao_2024/open_shelter_Nanao-shi_2024-05-07-0600.csv",
        6,
        Known("七尾総合市民体育館", "evacuation_site", ALL_HAZARDS, "172022", 720),
        history=6,
        municipality="172022",
        format="standard_csv",
    ),
    Case(
        "nanao_2024/open_shelter_Nanao-shi_2024-09-02.geojson",
        1,
        Known("矢田郷地区コミュニティセンター", "evacuation_site", ALL_HAZARDS, "172022", 3950),
        history=1,
        municipality="172022",
        format="standard_geojson",
    ),
]


def shelters_dir(shared_data: Path) -> Path:
    return shared_data / "shelters"


def run(session: Session, path: Path, municipality: str | None, **kwargs: Any) -> FileImport:
    options = make_options(municipality, filename=path.name)
    return import_file(session, path.read_bytes(), options, "test", **kwargs)


def with_boundaries(session: Session, shared_data: Path) -> None:
    import_boundaries(session, shared_data / TOKUSHIMA_BOUNDARIES, "N03_007", "N03_004")


@pytest.mark.parametrize("case", CASES, ids=[Path(c.path).name for c in CASES])
def test_every_shared_shelter_file_imports_and_reimports_unchanged(
    case: Case, session: Session, shared_data: Path
) -> None:
    if case.boundaries:
        with_boundaries(session, shared_data)
    path = shelters_dir(shared_data) / case.path
    first = run(session, path, case.municipality)
    assert (first.format, first.encoding) == (case.format, case.encoding)
    assert first.errors == []
    assert (first.created, first.updated, first.history_points) == (case.shelters, 0, case.history)
    stored = list(session.scalars(select(Shelter)))
    assert len(stored) == case.shelters
    assert all(122 < s.lon < 154 and 20 < s.lat < 46 for s in stored)

    known = case.known
    matches = [s for s in stored if s.name == known.name]
    assert len(matches) == 1, [s.name for s in stored][:10]
    shelter = matches[0]
    assert shelter.kind == known.kind
    assert shelter.hazards == known.hazards
    assert shelter.municipality_code == known.code
    assert shelter.capacity == known.capacity
    if known.phone:
        assert shelter.phone == known.phone
    if known.source_id:
        assert shelter.source_id == known.source_id

    again = run(session, path, case.municipality)
    assert (again.created, again.updated, again.unchanged) == (0, 0, case.shelters)
    assert (again.history_points, again.history_unchanged) == (0, case.history)
    assert again.errors == []
    assert session.scalar(select(func.count()).select_from(Shelter)) == case.shelters


def test_tokushima_rows_find_their_municipality_by_name_or_by_boundary(
    session: Session, shared_data: Path
) -> None:
    with_boundaries(session, shared_data)
    run(session, shelters_dir(shared_data) / "tokushima/tokushima_pref_shelters_sjis.csv", None)
    codes = dict(session.execute(select(Shelter.name, Shelter.municipality_code)).all())
    assert {code[:2] for code in codes.values()} == {"36"}
    assert len(set(codes.values())) == 24  # every municipality of 徳島県
    # 赤石町6-60 names no municipality: the point lies in 小松島市.
    assert codes["コミュニティセンター新開会館"] == "362034"
    # 貞光字長瀬 is in つるぎ町; its full-width phone number is normalised.
    nagase = session.scalar(select(Shelter).where(Shelter.name == "長瀬集会所"))
    assert nagase is not None
    assert (nagase.municipality_code, nagase.phone) == ("364681", "0883-62-3111")


def test_tokushima_names_alone_resolve_most_rows_and_report_the_rest_by_line(
    session: Session, shared_data: Path
) -> None:
    table = json.loads(
        (shelters_dir(shared_data) / "reference/jp_shelter_api_code_to_city.json").read_text()
    )
    names = {c["cityName"]: c["code"] for c in table["36"]["cities"].values() if c["cityName"]}
    path = shelters_dir(shared_data) / "tokushima/tokushima_pref_shelters_sjis.csv"
    result = run(session, path, None, extra_names=names)
    # 224 addresses omit the municipality (e.g. 貞光字長瀬…): without boundaries they cannot
    # be placed, and are reported instead of guessed.
    assert (result.created, len(result.errors)) == (1058, 224)
    by_line = {e.line: e.reason for e in result.errors}
    assert "no municipality code" in by_line[79]  # 長瀬集会所, after an embedded newline
    assert "貞光字長瀬196番地" in by_line[79]
    naruto = session.scalar(select(Shelter).where(Shelter.name == "鳴門渦潮高等学校(体育館)"))
    assert naruto is not None and naruto.municipality_code == "362026"


def test_the_projected_nanao_geojson_lands_on_its_published_coordinates(
    session: Session, shared_data: Path
) -> None:
    path = shelters_dir(shared_data) / "nanao_2024/open_shelter_Nanao-shi_2024-09-02.geojson"
    properties = json.loads(path.read_text())["features"][0]["properties"]
    run(session, path, "172022")
    shelter = session.scalar(select(Shelter))
    assert shelter is not None
    assert shelter.lon == pytest.approx(properties["経度"], abs=1e-6)
    assert shelter.lat == pytest.approx(properties["緯度"], abs=1e-6)


def test_nanao_status_snapshots_become_history_of_the_registered_shelters(
    session: Session, shared_data: Path
) -> None:
    nanao = shelters_dir(shared_data) / "nanao_2024"
    registry = run(session, nanao / "nanao_reference_shelters_standard_columns.csv", "172022")
    assert registry.created == 112
    expected = {
        "open_shelter_Nanao-shi_2024-01-09-1800.csv": 29,
        "open_shelter_Nanao-shi_2024-01-14-1800.csv": 28,
        "open_shelter_Nanao-shi_2024-02-01-0600.csv": 24,
        "open_shelter_Nanao-shi_2024-03-01-0600.csv": 19,
        "open_shelter_Nanao-shi_2024-05-07-0600.csv": 6,
        "open_shelter_Nanao-shi_2024-09-02.geojson": 1,
    }
    for name, rows in expected.items():
        result = run(session, nanao / name, "172022", snapshots_only=True)
        assert (result.history_points, result.errors) == (rows, []), name
        assert (result.created, result.updated) == (0, 0)  # the registry is not touched
    assert session.scalar(select(func.count()).select_from(Shelter)) == 112
    misogi = session.scalar(select(Shelter).where(Shelter.name == "御祓地区コミュニティセンター"))
    assert misogi is not None
    points = session.execute(
        select(ShelterHistory.at, ShelterHistory.occupancy)
        .where(ShelterHistory.shelter_id == misogi.id, ShelterHistory.source == "snapshot")
        .order_by(ShelterHistory.at)
    ).all()
    # 2024-01-09 18:00 JST is 09:00 UTC; the counts fall as people went home.
    assert [(at.isoformat(), n) for at, n in points] == [
        ("2024-01-09T09:00:00+00:00", 130),
        ("2024-01-14T09:00:00+00:00", 106),
        ("2024-01-31T21:00:00+00:00", 59),
        ("2024-02-29T21:00:00+00:00", 31),
    ]
    again = run(
        session, nanao / "open_shelter_Nanao-shi_2024-01-09-1800.csv", "172022", snapshots_only=True
    )
    assert (again.history_points, again.history_unchanged) == (0, 29)


def test_snapshots_of_unknown_shelters_are_reported_not_invented(
    session: Session, shared_data: Path
) -> None:
    path = shelters_dir(shared_data) / "nanao_2024/open_shelter_Nanao-shi_2024-05-07-0600.csv"
    result = run(session, path, "172022", snapshots_only=True)
    assert result.history_points == 0
    assert [e.line for e in result.errors] == [2, 3, 4, 5, 6, 7]
    assert "import the registry first" in result.errors[0].reason
    assert session.scalar(select(func.count()).select_from(Shelter)) == 0


def test_a_registry_file_is_refused_as_snapshots(session: Session, shared_data: Path) -> None:
    path = shelters_dir(shared_data) / "gsi_csv/26343_ide_shitei-hinanjo.csv"
    with pytest.raises(InvalidInput) as refused:
        run(session, path, None, snapshots_only=True)
    assert "no evacuee count column" in refused.value.message


@pytest.mark.parametrize(
    "path",
    [
        "imabari_2024/imabari_shelter_announcements_typhoon10_2024.csv",
        "reference/jp_shelter_api_code_to_city.json",
    ],
)
def test_files_that_list_no_shelters_are_refused(
    path: str, session: Session, shared_data: Path
) -> None:
    # The announcements are a timeline of notices (title, status, date, link); the reference is
    # a code table. Neither names a shelter or a position.
    with pytest.raises(InvalidInput):
        run(session, shelters_dir(shared_data) / path, "382027")
    assert session.scalar(select(func.count()).select_from(Shelter)) == 0
