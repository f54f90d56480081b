"""JMA area codes to 全国地方公共団体コード: the 7-digit 市町村等 codes and the region tables."""

from __future__ import annotations

from gis import normalize_municipality_code

# Municipality codes (5 digits, the check digit is computed) of the coastal municipalities in
# each 津波予報区 (tsunami forecast region), and of every municipality in each 地震情報／細分区域
# (earthquake-information region): VTSE41 and VXSE51 name only these regions, never a
# municipality. Source: 気象庁「津波予報区」 and 「地震情報で用いる区域の名称」
# (https://www.data.jma.go.jp/eqev/data/joho/t-yohokuinfo.html,
#  https://www.data.jma.go.jp/eqev/data/joho/shindo-name.html); names and codes checked by the
# tests against JMA's 二次細分区域 code list. Only the regions around the Sea of Japan coast from
# Yamagata to Hyogo (the 2024 Noto Peninsula earthquake) and the Izu and Ogasawara islands are
# filled in; a telegram naming any other region lists it under `unmapped_areas` and makes no
# alert for it (docs/integrations/jma.md says how to extend the tables).
Region = tuple[str, tuple[tuple[str, str], ...]]

TSUNAMI_REGIONS: dict[str, Region] = {
    "240": ("山形県", (("06203", "鶴岡市"), ("06204", "酒田市"), ("06461", "遊佐町"))),
    "340": (
        "新潟県上中下越",
        (
            ("15100", "新潟市"),
            ("15202", "長岡市"),
            ("15205", "柏崎市"),
            ("15206", "新発田市"),
            ("15212", "村上市"),
            ("15216", "糸魚川市"),
            ("15222", "上越市"),
            ("15227", "胎内市"),
            ("15307", "聖籠町"),
            ("15405", "出雲崎町"),
            ("15504", "刈羽村"),
            ("15586", "粟島浦村"),
        ),
    ),
    "341": ("佐渡", (("15224", "佐渡市"),)),
    "350": (
        "富山県",
        (
            ("16201", "富山市"),
            ("16202", "高岡市"),
            ("16204", "魚津市"),
            ("16205", "氷見市"),
            ("16206", "滑川市"),
            ("16207", "黒部市"),
            ("16211", "射水市"),
            ("16342", "入善町"),
            ("16343", "朝日町"),
        ),
    ),
    "360": (
        "石川県能登",
        (
            ("17202", "七尾市"),
            ("17204", "輪島市"),
            ("17205", "珠洲市"),
            ("17207", "羽咋市"),
            ("17384", "志賀町"),
            ("17386", "宝達志水町"),
            ("17461", "穴水町"),
            ("17463", "能登町"),
        ),
    ),
    "361": (
        "石川県加賀",
        (
            ("17201", "金沢市"),
            ("17203", "小松市"),
            ("17206", "加賀市"),
            ("17209", "かほく市"),
            ("17210", "白山市"),
            ("17211", "能美市"),
            ("17365", "内灘町"),
        ),
    ),
    "370": (
        "福井県",
        (
            ("18201", "福井市"),
            ("18202", "敦賀市"),
            ("18204", "小浜市"),
            ("18208", "あわら市"),
            ("18210", "坂井市"),
            ("18404", "南越前町"),
            ("18423", "越前町"),
            ("18442", "美浜町"),
            ("18481", "高浜町"),
            ("18483", "おおい町"),
            ("18501", "若狭町"),
        ),
    ),
    "500": (
        "京都府",
        (
            ("26202", "舞鶴市"),
            ("26205", "宮津市"),
            ("26212", "京丹後市"),
            ("26463", "伊根町"),
            ("26465", "与謝野町"),
        ),
    ),
    "520": ("兵庫県北部", (("28209", "豊岡市"), ("28585", "香美町"), ("28586", "新温泉町"))),
    "320": (
        "伊豆諸島",
        (
            ("13361", "大島町"),
            ("13362", "利島村"),
            ("13363", "新島村"),
            ("13364", "神津島村"),
            ("13381", "三宅村"),
            ("13382", "御蔵島村"),
            ("13401", "八丈町"),
            ("13402", "青ヶ島村"),
        ),
    ),
    "321": ("小笠原諸島", (("13421", "小笠原村"),)),
}

SEISMIC_REGIONS: dict[str, Region] = {
    "240": (
        "山形県庄内",
        (
            ("06203", "鶴岡市"),
            ("06204", "酒田市"),
            ("06426", "三川町"),
            ("06428", "庄内町"),
            ("06461", "遊佐町"),
        ),
    ),
    "241": (
        "山形県最上",
        (
            ("06205", "新庄市"),
            ("06361", "金山町"),
            ("06362", "最上町"),
            ("06363", "舟形町"),
            ("06364", "真室川町"),
            ("06365", "大蔵村"),
            ("06366", "鮭川村"),
            ("06367", "戸沢村"),
        ),
    ),
    "242": (
        "山形県村山",
        (
            ("06201", "山形市"),
            ("06206", "寒河江市"),
            ("06207", "上山市"),
            ("06208", "村山市"),
            ("06210", "天童市"),
            ("06211", "東根市"),
            ("06212", "尾花沢市"),
            ("06301", "山辺町"),
            ("06302", "中山町"),
            ("06321", "河北町"),
            ("06322", "西川町"),
            ("06323", "朝日町"),
            ("06324", "大江町"),
            ("06341", "大石田町"),
        ),
    ),
    "243": (
        "山形県置賜",
        (
            ("06202", "米沢市"),
            ("06209", "長井市"),
            ("06213", "南陽市"),
            ("06381", "高畠町"),
            ("06382", "川西町"),
            ("06401", "小国町"),
            ("06402", "白鷹町"),
            ("06403", "飯豊町"),
        ),
    ),
    "370": ("新潟県上越", (("15216", "糸魚川市"), ("15217", "妙高市"), ("15222", "上越市"))),
    "371": (
        "新潟県中越",
        (
            ("15202", "長岡市"),
            ("15204", "三条市"),
            ("15205", "柏崎市"),
            ("15208", "小千谷市"),
            ("15209", "加茂市"),
            ("15210", "十日町市"),
            ("15211", "見附市"),
            ("15225", "魚沼市"),
            ("15226", "南魚沼市"),
            ("15361", "田上町"),
            ("15405", "出雲崎町"),
            ("15461", "湯沢町"),
            ("15482", "津南町"),
            ("15504", "刈羽村"),
        ),
    ),
    "372": (
        "新潟県下越",
        (
            ("15100", "新潟市"),
            ("15206", "新発田市"),
            ("15212", "村上市"),
            ("15213", "燕市"),
            ("15218", "五泉市"),
            ("15223", "阿賀野市"),
            ("15227", "胎内市"),
            ("15307", "聖籠町"),
            ("15342", "弥彦村"),
            ("15385", "阿賀町"),
            ("15581", "関川村"),
            ("15586", "粟島浦村"),
        ),
    ),
    "375": ("新潟県佐渡", (("15224", "佐渡市"),)),
    "380": (
        "富山県東部",
        (
            ("16201", "富山市"),
            ("16204", "魚津市"),
            ("16206", "滑川市"),
            ("16207", "黒部市"),
            ("16321", "舟橋村"),
            ("16322", "上市町"),
            ("16323", "立山町"),
            ("16342", "入善町"),
            ("16343", "朝日町"),
        ),
    ),
    "381": (
        "富山県西部",
        (
            ("16202", "高岡市"),
            ("16205", "氷見市"),
            ("16208", "砺波市"),
            ("16209", "小矢部市"),
            ("16210", "南砺市"),
            ("16211", "射水市"),
        ),
    ),
    "390": (
        "石川県能登",
        (
            ("17202", "七尾市"),
            ("17204", "輪島市"),
            ("17205", "珠洲市"),
            ("17207", "羽咋市"),
            ("17384", "志賀町"),
            ("17386", "宝達志水町"),
            ("17407", "中能登町"),
            ("17461", "穴水町"),
            ("17463", "能登町"),
        ),
    ),
    "391": (
        "石川県加賀",
        (
            ("17201", "金沢市"),
            ("17203", "小松市"),
            ("17206", "加賀市"),
            ("17209", "かほく市"),
            ("17210", "白山市"),
            ("17211", "能美市"),
            ("17212", "野々市市"),
            ("17324", "川北町"),
            ("17361", "津幡町"),
            ("17365", "内灘町"),
        ),
    ),
    "400": (
        "福井県嶺北",
        (
            ("18201", "福井市"),
            ("18205", "大野市"),
            ("18206", "勝山市"),
            ("18207", "鯖江市"),
            ("18208", "あわら市"),
            ("18209", "越前市"),
            ("18210", "坂井市"),
            ("18322", "永平寺町"),
            ("18382", "池田町"),
            ("18404", "南越前町"),
            ("18423", "越前町"),
        ),
    ),
    "401": (
        "福井県嶺南",
        (
            ("18202", "敦賀市"),
            ("18204", "小浜市"),
            ("18442", "美浜町"),
            ("18481", "高浜町"),
            ("18483", "おおい町"),
            ("18501", "若狭町"),
        ),
    ),
}


# 政令指定都市 (designated cities): JMA's weather codes name the city (2610000 京都市), its
# earthquake codes and MLIT's N03 boundaries name the wards (26101 北区 ...). A ward's code is
# the city's plus 1-29 (14101-14118 are 横浜市's wards, 14131-14137 川崎市's).
DESIGNATED_CITIES = {
    "01100": "札幌市",
    "04100": "仙台市",
    "11100": "さいたま市",
    "12100": "千葉市",
    "14100": "横浜市",
    "14130": "川崎市",
    "14150": "相模原市",
    "15100": "新潟市",
    "22100": "静岡市",
    "22130": "浜松市",
    "23100": "名古屋市",
    "26100": "京都市",
    "27100": "大阪市",
    "27140": "堺市",
    "28100": "神戸市",
    "33100": "岡山市",
    "34100": "広島市",
    "40100": "北九州市",
    "40130": "福岡市",
    "43100": "熊本市",
}
WARD_SPAN = 30


def city_of_ward(code: str) -> str | None:
    """The 6-digit code of the designated city a ward belongs to, or None if `code` is no ward."""
    prefix = code[:5]
    if prefix in DESIGNATED_CITIES:
        return None
    cities = [
        city
        for city in DESIGNATED_CITIES
        if city[:2] == prefix[:2] and 0 < int(prefix) - int(city) < WARD_SPAN
    ]
    return normalize_municipality_code(max(cities)) if cities else None


def is_designated_city(code: str) -> bool:
    """Whether a 6-digit code is a designated city (whose area is its wards')."""
    return code[:5] in DESIGNATED_CITIES


def municipality_from_jma_code(code: str) -> str | None:
    """The 6-digit 全国地方公共団体コード of a JMA 7-digit 市町村等 code, or None if it is none.

    JMA's code is the 5-digit local-government code followed by two digits that split a
    municipality into parts (1410011 = 横浜市北部 → 14100 横浜市 → 141003).
    """
    code = code.strip()
    if len(code) != 7 or not code.isascii() or not code.isdigit():
        return None
    if not 1 <= int(code[:2]) <= 47:  # a prefecture number, or a placeholder like 0000000
        return None
    return normalize_municipality_code(code[:5])


def region_municipalities(table: dict[str, Region], code: str) -> list[str] | None:
    """The 6-digit municipality codes of a tsunami or seismic region, or None if not tabled."""
    region = table.get(code.strip())
    if region is None:
        return None
    return [normalize_municipality_code(municipality) for municipality, _ in region[1]]
