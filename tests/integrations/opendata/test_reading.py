"""Reading published shelter files: encodings, headers, column maps, capacities, positions."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from integrations.opendata.formats import ParsedFile, make_options, parse
from integrations.opendata.service import import_file
from integrations.opendata.values import capacity, hazards_from_text, japanese_time
from kizuna.errors import InvalidInput
from shelters.models import Shelter

GSI_EMERGENCY_HEADER = (
    "NO,共通ID,施設・場所名,住所,洪水,崖崩れ、土石流及び地滑り,高潮,地震,津波,大規模な火事,"
    "内水氾濫,火山現象,指定避難所との住所同一,緯度,経度,備考"
)
JST = timezone(timedelta(hours=9))


def gsi_emergency_csv(*rows: str) -> str:
    """A GSI 指定緊急避難場所 CSV with the given data lines."""
    return "\r\n".join([GSI_EMERGENCY_HEADER, *rows]) + "\r\n"


YAMABUKI = (
    "1,E2634300009201,山吹ふれあいセンター,京都府井手町大字井手8,1,1,,1,,1,1,,1,34.8005,135.8151,"
)


def read(data: bytes, **options: object) -> ParsedFile:
    return parse(data, make_options(**options))  # type: ignore[arg-type]


def count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Shelter)) or 0)


# --- encodings -------------------------------------------------------------------------------


def test_a_utf8_file_with_a_bom_reads_its_first_column() -> None:
    parsed = read(b"\xef\xbb\xbf" + gsi_emergency_csv(YAMABUKI).encode())
    assert parsed.encoding == "utf-8-bom"
    shelter = parsed.rows[0].shelter
    assert shelter is not None
    assert shelter.name == "山吹ふれあいセンター"
    assert shelter.source_id == "E2634300009201"


def test_a_shift_jis_file_reads_as_shift_jis() -> None:
    parsed = read(gsi_emergency_csv(YAMABUKI).encode("shift_jis"))
    assert parsed.encoding == "shift_jis"
    assert parsed.rows[0].shelter is not None
    assert parsed.rows[0].shelter.name == "山吹ふれあいセンター"


def test_cp932_only_characters_read_as_cp932() -> None:
    # 髙 (0xFB 0xFC) is a CP932 extension that strict Shift_JIS refuses.
    row = YAMABUKI.replace("山吹ふれあいセンター", "髙田公民館")
    data = gsi_emergency_csv(row).encode("cp932")
    with pytest.raises(UnicodeDecodeError):
        data.decode("shift_jis")
    parsed = read(data)
    assert parsed.encoding == "cp932"
    assert parsed.rows[0].shelter is not None
    assert parsed.rows[0].shelter.name == "髙田公民館"


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ("name,lat,lon\nCafé,35.0,139.0\n".encode("latin-1"), "neither UTF-8 nor Shift_JIS"),
        ("名称,緯度,経度\n".encode("utf-16-le"), "NUL bytes"),
        ("名称,緯度,経度\n".encode("utf-16"), "NUL bytes"),
        ("名称,緯度,経度\n公民館,35.0,139.0\n".encode("euc_jp"), "EUC-JP"),
    ],
    ids=["latin-1", "utf-16 without BOM", "utf-16 with BOM", "euc-jp"],
)
def test_a_file_in_another_encoding_is_refused_naming_the_problem(data: bytes, says: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        read(data)
    assert says in refused.value.message
    assert refused.value.code == "bad_encoding"


def test_a_refused_file_stores_nothing(session: Session) -> None:
    with pytest.raises(InvalidInput):
        import_file(session, "名称,緯度\nx,1\n".encode("utf-16"), make_options(), "test")
    assert count(session) == 0


# --- headers ---------------------------------------------------------------------------------


def test_a_csv_without_a_recognisable_header_is_refused_listing_its_columns() -> None:
    with pytest.raises(InvalidInput) as refused:
        read(b"title,status,date\nfoo,open,2024-08-29\n")
    message = refused.value.message
    assert "no recognisable header" in message
    assert "title, status, date" in message
    assert refused.value.field == "file"


def test_a_named_list_without_positions_is_refused_asking_for_coordinates() -> None:
    with pytest.raises(InvalidInput) as refused:
        read("名称,住所\n公民館,七尾市\n".encode())
    assert "緯度/経度" in refused.value.message


def test_a_title_line_above_the_header_is_skipped() -> None:
    text = "七尾市 指定緊急避難場所一覧（令和6年）\n名称,緯度,経度\n公民館,37.0,136.9\n"
    parsed = read(text.encode(), municipality="172022")
    assert parsed.rows[0].line == 3
    assert parsed.rows[0].shelter is not None


def test_broken_json_is_refused() -> None:
    with pytest.raises(InvalidInput) as refused:
        read(b'{"type": "FeatureCollection", "features": [')
    assert "not valid JSON" in refused.value.message


# --- column maps -------------------------------------------------------------------------------


CUSTOM = (
    "施設コード,避難先,場所,北緯,東経,受入可能数,TEL,区分\n"
    "A-01,中央公民館,絆市本町1-1,35.05,139.05,１２０人,０１２－３４５－６７８９,指定避難所\n"
    "A-02,北公園,絆市北町2,35.08,139.02,屋内0人／屋外800人(面積の1/2),,指定緊急避難場所\n"
)
CUSTOM_MAP = [
    "施設コード=source_id",
    "避難先=name",
    "場所=address",
    "北緯=lat",
    "東経=lon",
    "受入可能数=capacity",
    "TEL=phone",
    "区分=kind",
]


def test_a_custom_layout_imports_through_a_column_map(session: Session) -> None:
    options = make_options("999989", CUSTOM_MAP, filename="kizuna.csv")
    result = import_file(session, CUSTOM.encode(), options, "test")
    assert (result.created, result.errors) == (2, [])
    hall = session.scalar(select(Shelter).where(Shelter.source_id == "A-01"))
    park = session.scalar(select(Shelter).where(Shelter.source_id == "A-02"))
    assert hall is not None and park is not None
    assert (hall.name, hall.kind, hall.capacity) == ("中央公民館", "shelter", 120)
    assert hall.phone == "012-345-6789"  # full-width digits normalised
    assert (park.kind, park.capacity) == ("evacuation_site", 800)
    assert (hall.lon, hall.lat) == (139.05, 35.05)


def test_the_same_layout_without_a_map_is_refused() -> None:
    with pytest.raises(InvalidInput):
        read(CUSTOM.encode(), municipality="999989")


def test_a_map_naming_a_missing_column_is_refused() -> None:
    with pytest.raises(InvalidInput) as refused:
        read(CUSTOM.encode(), maps=[*CUSTOM_MAP, "定員=capacity"])
    assert refused.value.field == "map"
    assert "定員" in refused.value.message


def test_a_map_to_an_unknown_field_is_refused() -> None:
    with pytest.raises(InvalidInput) as refused:
        make_options(maps=["北緯=latitude"])
    assert refused.value.field == "map"


# --- bad rows --------------------------------------------------------------------------------


def test_bad_rows_are_reported_by_line_and_the_good_ones_kept(session: Session) -> None:
    text = (
        "ID,名称,住所,緯度,経度,備考\n"  # line 1
        'S1,第一小学校,絆市1,35.01,139.01,"体育館\n2階"\n'  # lines 2-3
        "S2,第二小学校,絆市2,north,139.02,\n"  # line 4
        "S3,,絆市3,35.03,139.03,\n"  # line 5
        "S4,第四小学校,絆市4,35.04,139.04,\n"  # line 6
        "S5,第五小学校,絆市5,135.05,239.05,\n"  # line 7
    )
    result = import_file(session, text.encode(), make_options("999989"), "test")
    assert result.created == 2
    reasons = {e.line: e.reason for e in result.errors}
    assert sorted(reasons) == [4, 5, 7]
    assert "緯度 'north' is not a number" in reasons[4]
    assert "name" in reasons[5] and "empty" in reasons[5]
    assert "off the globe" in reasons[7]
    names = set(session.scalars(select(Shelter.name)))
    assert names == {"第一小学校", "第四小学校"}


def test_a_row_with_more_values_than_columns_is_an_error() -> None:
    parsed = read("名称,緯度,経度\n公民館,35.0,139.0,extra\n".encode(), municipality="999989")
    assert parsed.rows[0].shelter is None
    assert "header has 3 columns" in parsed.rows[0].shelter_problems[0].reason


def test_rows_without_a_municipality_are_errors_unless_one_is_given(session: Session) -> None:
    text = "名称,緯度,経度\n公民館,35.0,139.0\n".encode()
    refused = import_file(session, text, make_options(), "test")
    assert refused.created == 0
    assert "no municipality code" in refused.errors[0].reason
    accepted = import_file(session, text, make_options("999989"), "test")
    assert accepted.created == 1


def test_swapped_latitude_and_longitude_are_swapped_back_with_a_warning() -> None:
    parsed = read("名称,緯度,経度\n公民館,139.05,35.05\n".encode(), municipality="999989")
    shelter = parsed.rows[0].shelter
    assert shelter is not None
    assert (shelter.lon, shelter.lat) == (139.05, 35.05)
    assert "swapped" in parsed.rows[0].shelter_problems[0].reason


# --- re-import -------------------------------------------------------------------------------


def test_a_reimport_updates_in_place_and_never_duplicates(session: Session) -> None:
    first = gsi_emergency_csv(YAMABUKI)
    assert import_file(session, first.encode(), make_options(), "test").created == 1
    again = import_file(session, first.encode(), make_options(), "test")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)
    moved = first.replace("34.8005,135.8151", "34.8006,135.8152").replace(
        ",1,,1,1,,1,", ",1,1,1,1,,1,"
    )
    changed = import_file(session, moved.encode(), make_options(), "test")
    assert (changed.created, changed.updated) == (0, 1)
    assert count(session) == 1
    shelter = session.scalar(select(Shelter))
    assert shelter is not None
    assert (shelter.lon, shelter.lat) == (135.8152, 34.8006)
    assert "tsunami" in shelter.hazards


def test_a_file_without_ids_gets_stable_ids_from_name_and_address(session: Session) -> None:
    text = (
        "避難所名,所在地,緯度,経度,収容人数\n"
        "吉海学習交流館,今治市吉海町八幡137,34.1456,133.0431,336\n"
    )
    options = make_options("382027")
    first = import_file(session, text.encode(), options, "test")
    second = import_file(session, text.replace("336", "340").encode(), options, "test")
    assert (first.created, second.created, second.updated) == (1, 0, 1)
    shelter = session.scalar(select(Shelter))
    assert shelter is not None
    assert shelter.source_id.startswith("h-")
    assert shelter.capacity == 340


# --- values ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind", "expected"),
    [
        ("屋内191人／屋外0人(面積の1/2)", "shelter", 191),
        ("屋内1,371人／屋外5,470人（面積の1/2）", "shelter", 1371),
        ("屋内1,371人／屋外5,470人（面積の1/2）", "evacuation_site", 6841),
        ("屋内2,736人屋外11,700人（面積の1/2）", "evacuation_site", 14436),
        ("屋内0人／屋外1,000人(面積の1/2)", "shelter", 0),
        ("屋内990人／屋外0人(座席数)", "welfare_shelter", 990),
        ("１２０人", "shelter", 120),
        ("約500人", "shelter", 500),
        ("336", "shelter", 336),
        ("", "shelter", None),
    ],
)
def test_capacities_are_read_from_numbers_and_free_text(
    text: str, kind: str, expected: int | None
) -> None:
    assert capacity(text, kind).value == expected


def test_a_capacity_that_is_not_understood_is_left_empty_with_a_warning() -> None:
    assert capacity("多数", "shelter").understood is False
    parsed = read(
        "名称,緯度,経度,収容人数\n公民館,35.0,139.0,多数\n".encode(), municipality="999989"
    )
    assert parsed.rows[0].shelter is not None and parsed.rows[0].shelter.capacity is None
    assert "'多数' not understood" in parsed.rows[0].shelter_problems[0].reason


def test_free_text_hazard_lists_name_the_hazards() -> None:
    listed = hazards_from_text("洪水,崖崩れ等,地震,大規模な火事,内水氾濫,津波,高潮")
    assert listed.hazards == sorted(
        ["flood", "landslide", "earthquake", "fire", "inland_flood", "tsunami", "storm_surge"]
    )
    assert hazards_from_text("崖崩れ、土石流及び地滑り, 火山").hazards == ["landslide", "volcano"]
    assert hazards_from_text("洪水,隕石").unknown == ["隕石"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("令和6年1月9日午後6時", datetime(2024, 1, 9, 18, 0, tzinfo=JST)),
        ("人数_令和6年2月1日午前6時時点", datetime(2024, 2, 1, 6, 0, tzinfo=JST)),
        ("2024-08-29 16:53:00", datetime(2024, 8, 29, 16, 53, tzinfo=JST)),
        ("open_shelter_Nanao-shi_2024-03-01-0600", datetime(2024, 3, 1, 6, 0, tzinfo=JST)),
        ("２０２４年９月２日１８時３０分", datetime(2024, 9, 2, 18, 30, tzinfo=JST)),
        ("2024-08-29T07:53:00Z", datetime(2024, 8, 29, 16, 53, tzinfo=JST)),
        ("いつか", None),
    ],
)
def test_japanese_times_are_read_in_japan_time(text: str, expected: datetime | None) -> None:
    assert japanese_time(text) == expected


def test_kinds_come_from_classification_text_and_welfare_columns() -> None:
    text = (
        "タイトル,所在地,緯度,経度,分類\n"
        'A,x,34.0,134.5,"指定緊急避難場所（法指定）,指定避難所（法指定）"\n'
        'B,y,34.0,134.5,"指定避難所（法定外）,福祉避難所（法定外）"\n'
        "C,z,34.0,134.5,指定緊急避難場所（法定外）\n"
    )
    parsed = read(text.encode("cp932"), municipality="362018")
    kinds = [r.shelter.kind for r in parsed.rows if r.shelter]
    assert kinds == ["shelter", "welfare_shelter", "evacuation_site"]
    overridden = read(text.encode("cp932"), municipality="362018", kind="shelter")
    assert {r.shelter.kind for r in overridden.rows if r.shelter} == {"shelter"}


# --- projected coordinates ---------------------------------------------------------------------


# 矢田郷地区コミュニティセンター in JGD2011 / Japan Plane Rectangular CS VII (EPSG:6675).
YATAGO_EN = (-17507.738838992452656, 114708.241888354241382)
YATAGO_LON_LAT = (136.96987, 37.03364)


def projected_geojson(crs: str | None) -> bytes:
    document: dict[str, object] = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"ID": "CC0000000537", "名称": "矢田郷地区コミュニティセンター"},
                "geometry": {"type": "Point", "coordinates": list(YATAGO_EN)},
            }
        ],
    }
    if crs:
        document["crs"] = {"type": "name", "properties": {"name": crs}}
    return json.dumps(document, ensure_ascii=False).encode()


def test_a_geojson_in_epsg_6675_is_converted_to_lon_lat() -> None:
    parsed = read(projected_geojson("urn:ogc:def:crs:EPSG::6675"), municipality="172022")
    shelter = parsed.rows[0].shelter
    assert shelter is not None
    assert shelter.lon == pytest.approx(YATAGO_LON_LAT[0], abs=1e-6)
    assert shelter.lat == pytest.approx(YATAGO_LON_LAT[1], abs=1e-6)


def test_projected_coordinates_without_a_crs_are_a_row_error_asking_for_one() -> None:
    parsed = read(projected_geojson(None), municipality="172022")
    assert parsed.rows[0].shelter is None
    assert "--crs EPSG:6675" in parsed.rows[0].shelter_problems[0].reason
    declared = read(projected_geojson(None), municipality="172022", crs="EPSG:6675")
    assert declared.rows[0].shelter is not None


def test_a_crs_option_contradicting_the_file_is_refused() -> None:
    with pytest.raises(InvalidInput) as refused:
        read(projected_geojson("EPSG:6675"), crs="EPSG:6676")
    assert refused.value.field == "crs"


def test_csv_x_y_columns_with_a_declared_crs_are_converted() -> None:
    east, north = YATAGO_EN
    gis_order = f"名称,x,y\n矢田郷,{east},{north}\n"
    survey_order = f"名称,X座標,Y座標\n矢田郷,{north},{east}\n"  # 測量: X = northing
    for text in (gis_order, survey_order):
        parsed = read(text.encode(), municipality="172022", crs="EPSG:6675")
        shelter = parsed.rows[0].shelter
        assert shelter is not None
        assert (shelter.lon, shelter.lat) == pytest.approx(YATAGO_LON_LAT, abs=1e-6)
    swapped = read(survey_order.encode(), municipality="172022", crs="EPSG:6675")
    assert "swapped" in swapped.rows[0].shelter_problems[0].reason


def test_x_y_columns_without_a_crs_are_refused() -> None:
    with pytest.raises(InvalidInput) as refused:
        read("名称,x,y\n矢田郷,-17507.7,114708.2\n".encode(), municipality="172022")
    assert refused.value.field == "crs"


def test_an_unknown_crs_is_refused() -> None:
    with pytest.raises(InvalidInput) as refused:
        make_options(crs="EPSG:999999")
    assert refused.value.field == "crs"


def test_a_polygon_feature_is_a_row_error() -> None:
    document = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"名称": "公園"},
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [[[139, 35], [139.1, 35], [139.1, 35.1], [139, 35]]],
                },
            },
            {
                "type": "Feature",
                "properties": {"名称": "公民館"},
                "geometry": {"type": "Point", "coordinates": [139.05, 35.05]},
            },
        ],
    }
    parsed = read(json.dumps(document).encode(), municipality="999989")
    assert parsed.rows[0].shelter is None
    assert "Polygon" in parsed.rows[0].shelter_problems[0].reason
    assert parsed.rows[1].shelter is not None


def test_the_municipality_comes_from_a_gsi_file_name() -> None:
    document = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"共通ID": "X", "施設・場所名": "公民館", "受入対象者": ""},
                "geometry": {"type": "Point", "coordinates": [136.96, 37.05]},
            }
        ],
    }
    parsed = read(json.dumps(document).encode(), filename="evacuation_172022_nanao.geojson")
    shelter = parsed.rows[0].shelter
    assert shelter is not None
    assert (shelter.municipality_code, shelter.kind) == ("172022", "shelter")


def test_a_repeated_id_is_an_error_even_far_apart_in_a_large_file(session: Session) -> None:
    lines = ["ID,名称,緯度,経度"]
    lines += [f"S{n},避難所{n},35.0{n % 10},139.0{n % 10}" for n in range(450)]
    lines.append("S7,別の避難所,35.0,139.0")  # line 452, beyond the service's chunk of 200
    result = import_file(session, "\n".join(lines).encode(), make_options("999989"), "test")
    assert (result.created, [e.line for e in result.errors]) == (450, [452])
    assert "S7 appears twice (first on line 9)" in result.errors[0].reason
    assert count(session) == 450
