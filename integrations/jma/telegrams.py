"""JMA telegram types and their parsers: from a Report to what each municipality is told."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from lxml import etree

from integrations.jma.areas import (
    SEISMIC_REGIONS,
    TSUNAMI_REGIONS,
    municipality_from_jma_code,
    region_municipalities,
)
from integrations.jma.report import Report, child, children, descendants, text
from kizuna.errors import InvalidInput

SEVERITY_RANK = {"Extreme": 4, "Severe": 3, "Moderate": 2, "Minor": 1, "Unknown": 0}
# 警戒レベル相当 (evacuation level equivalent) of the pre-2026 warning names; the R06 names carry
# their level ("レベル３大雨警報"). 内閣府「避難情報に関するガイドライン」(令和3年5月) 表.
WEATHER_LEVELS = {
    "大雨特別警報": 5,
    "高潮特別警報": 4,
    "高潮警報": 4,
    "大雨警報": 3,
    "洪水警報": 3,
    "大雨注意報": 2,
    "洪水注意報": 2,
    "高潮注意報": 2,
}
# An advisory (注意報) about what makes people evacuate is Moderate; the rest (雷, 乾燥, 濃霧 ...)
# are Minor.
EVACUATION_HAZARDS = ("大雨", "洪水", "高潮", "土砂")
INACTIVE_WEATHER = ("解除", "発表警報・注意報はなし")
# 震度 (seismic intensity) as JMA writes it in Body MaxInt, with its Japanese label and severity.
INTENSITIES = {
    "1": ("震度１", "Minor"),
    "2": ("震度２", "Minor"),
    "3": ("震度３", "Minor"),
    "4": ("震度４", "Moderate"),
    "5-": ("震度５弱", "Moderate"),
    "5+": ("震度５強", "Severe"),
    "6-": ("震度６弱", "Severe"),
    "6+": ("震度６強", "Extreme"),
    "7": ("震度７", "Extreme"),
}
INTENSITY_ORDER = list(INTENSITIES)
# Municipalities shaken less than this get no alert (震度速報 itself starts at 震度３).
ALERT_INTENSITY = "3"
# 震度５弱以上未入電: a station expected to see 5弱 or more has not reported yet.
UNREPORTED_STRONG = "5-"
LEVEL_PATTERN = re.compile(r"(?:警戒)?レベル([1-5])")


@dataclass(frozen=True)
class Hazard:
    """One warning or observation as it applies to a municipality, with our CAP reading of it."""

    name: str
    category: str
    severity: str
    urgency: str
    certainty: str
    evacuation_level: int | None = None


@dataclass(frozen=True)
class Finding:
    """What one JMA area of a telegram says, mapped to one municipality."""

    municipality_code: str
    area_name: str
    hazard: Hazard | None  # None: nothing in force any more (解除, なし, 津波予報 ...)
    line: str


@dataclass
class Notice:
    """What a telegram tells one municipality: the hazards in force, or that none are."""

    municipality_code: str
    area_names: list[str]
    hazards: list[Hazard]
    lines: list[str]

    @property
    def active(self) -> bool:
        return bool(self.hazards)

    @property
    def top(self) -> Hazard:
        """The most severe hazard (ties: the highest evacuation level, then JMA's order)."""
        return max(
            self.hazards,
            key=lambda h: (SEVERITY_RANK[h.severity], h.evacuation_level or 0),
        )

    @property
    def event(self) -> str:
        ordered = sorted(
            self.hazards,
            key=lambda h: (-SEVERITY_RANK[h.severity], -(h.evacuation_level or 0)),
        )
        return "・".join(dict.fromkeys(h.name for h in ordered))

    @property
    def evacuation_level(self) -> int | None:
        levels = [h.evacuation_level for h in self.hazards if h.evacuation_level]
        return max(levels) if levels else None


@dataclass
class Parsed:
    """A telegram read for alerts: per-municipality notices and what we could not place."""

    notices: list[Notice] = field(default_factory=list)
    unmapped_areas: list[str] = field(default_factory=list)
    # The telegram ends the whole event but names no municipality (a 解除 with no area list).
    lifts_all: bool = False
    summary: str = ""


Parser = Callable[[Report], Parsed]


@dataclass(frozen=True)
class TelegramType:
    """A kind of JMA telegram, recognised by Control/Title."""

    code: str
    name: str
    parse: Parser | None = None
    # Telegrams of one stream and event key form one thread per municipality.
    stream: str = ""
    by_event_id: bool = True
    lifetime: timedelta = timedelta(hours=24)
    category: str = "Met"  # CAP category of its 解除 and 取消 messages
    skip_reason: str = ""
    # Telegrams repeating another type's content share its identifiers (VPWW54 = VPWW53).
    same_as: str = ""
    # One hazard per municipality (an intensity), not a list of warnings.
    single_hazard: bool = False

    def event_key(self, report: Report) -> str:
        """What ties this telegram to earlier ones: the EventID, or the office when JMA gives
        none (weather warnings re-state a prefecture's whole state every time)."""
        key = report.event_id if self.by_event_id and report.event_id else report.office
        return f"{self.stream}|{key}"

    @property
    def identifier_prefix(self) -> str:
        return self.same_as or self.code


def normalized(value: str) -> str:
    """Full-width digits and letters as ASCII (JMA writes レベル３, ６強)."""
    return unicodedata.normalize("NFKC", value)


def explicit_level(*texts: str) -> int | None:
    """The 警戒レベル JMA states in a name or headline (【警戒レベル４相当情報［土砂災害］】)."""
    for value in texts:
        found = LEVEL_PATTERN.search(normalized(value))
        if found:
            return int(found.group(1))
    return None


def merge(findings: list[Finding]) -> list[Notice]:
    """One notice per municipality: several JMA areas may fall in one (横浜市北部, 横浜市南部)."""
    notices: dict[str, Notice] = {}
    for finding in findings:
        notice = notices.setdefault(
            finding.municipality_code, Notice(finding.municipality_code, [], [], [])
        )
        if finding.area_name not in notice.area_names:
            notice.area_names.append(finding.area_name)
        if finding.hazard is not None and finding.hazard not in notice.hazards:
            notice.hazards.append(finding.hazard)
        if finding.line and finding.line not in notice.lines:
            notice.lines.append(finding.line)
    return list(notices.values())


def _warning(report: Report, warning_type: str) -> etree._Element:
    found = _optional_warning(report, warning_type)
    if found is None:
        raise InvalidInput(f'Body has no <Warning type="{warning_type}">', field="Body/Warning")
    return found


def _optional_warning(report: Report, warning_type: str) -> etree._Element | None:
    for warning in children(report.body, "Warning"):
        if warning.get("type") == warning_type:
            return warning
    return None


# ---------------------------------------------------------------------------------------------
# 気象特別警報・警報・注意報 (VPWW53, VPWW54) and the R06 warnings (VPWW55-61)


def weather_hazard(name: str) -> Hazard:
    """Severity, urgency, certainty and 警戒レベル相当 of one weather warning name."""
    level = explicit_level(name) or WEATHER_LEVELS.get(name)
    if "特別警報" in name:
        return Hazard(name, "Met", "Extreme", "Immediate", "Likely", level)
    if "警報" in name:
        return Hazard(name, "Met", "Severe", "Expected", "Likely", level)
    if "注意報" in name and (level or any(word in name for word in EVACUATION_HAZARDS)):
        return Hazard(name, "Met", "Moderate", "Expected", "Possible", level)
    return Hazard(name, "Met", "Minor", "Expected", "Possible", level)


def _weather_line(kind: etree._Element, name: str, status: str) -> str:
    line = f"{name}（{status}）" if status else name
    condition = text(kind, "Condition")
    if condition:
        line += f"：{condition}"
    notes = [note.text.strip() for note in descendants(kind, "Note") if note.text]
    if notes:
        line += f"［{'、'.join(dict.fromkeys(notes))}］"
    return line


def parse_weather(report: Report) -> Parsed:
    """Warnings per municipality from <Warning type="気象警報・注意報（市町村等）">."""
    parsed = Parsed(summary=report.headline)
    findings: list[Finding] = []
    for item in children(_warning(report, "気象警報・注意報（市町村等）"), "Item"):
        area_name, area_code = text(item, "Area", "Name"), text(item, "Area", "Code")
        code = municipality_from_jma_code(area_code)
        if code is None:
            parsed.unmapped_areas.append(f"{area_name} ({area_code})")
            continue
        found_any = False
        for kind in children(item, "Kind"):
            name, status = text(kind, "Name"), text(kind, "Status")
            if not name or status in INACTIVE_WEATHER:
                line = f"{name}（{status}）" if name else status
                findings.append(Finding(code, area_name, None, line))
                continue
            found_any = True
            line = _weather_line(kind, name, status)
            findings.append(Finding(code, area_name, weather_hazard(name), line))
        if not found_any:
            findings.append(Finding(code, area_name, None, ""))
    parsed.notices = merge(findings)
    return parsed


# ---------------------------------------------------------------------------------------------
# 土砂災害警戒情報 (VXWW50)


def parse_landslide(report: Report) -> Parsed:
    """土砂災害警戒情報 per municipality: 発表/継続 in force, 解除/なし not."""
    parsed = Parsed(summary=report.headline)
    level = explicit_level(report.headline, report.head_title) or 4
    hazard = Hazard("土砂災害警戒情報", "Geo", "Severe", "Immediate", "Likely", level)
    findings: list[Finding] = []
    for item in children(_warning(report, "土砂災害警戒情報"), "Item"):
        area_name, area_code = text(item, "Area", "Name"), text(item, "Area", "Code")
        code = municipality_from_jma_code(area_code)
        if code is None:
            parsed.unmapped_areas.append(f"{area_name} ({area_code})")
            continue
        status = text(item, "Kind", "Status")
        if status in ("発表", "継続"):
            findings.append(Finding(code, area_name, hazard, f"土砂災害警戒情報（{status}）"))
        else:
            findings.append(Finding(code, area_name, None, f"土砂災害警戒情報（{status}）"))
    parsed.notices = merge(findings)
    return parsed


# ---------------------------------------------------------------------------------------------
# 指定河川洪水予報 (VXKOii)


def flood_hazard(name: str, event: str, headline: str) -> Hazard | None:
    """氾濫発生 → level 5, 氾濫危険 → 4, 氾濫警戒 → 3, 氾濫注意 → 2; a 解除 is None."""
    if "解除" in name:
        return None
    level = explicit_level(headline, name)
    if "発生" in name:
        return Hazard(event, "Met", "Extreme", "Immediate", "Observed", level or 5)
    if "危険" in name:
        return Hazard(event, "Met", "Severe", "Immediate", "Likely", level or 4)
    if "警戒" in name:
        return Hazard(event, "Met", "Severe", "Expected", "Likely", level or 3)
    return Hazard(event, "Met", "Moderate", "Expected", "Likely", level or 2)


def parse_flood(report: Report) -> Parsed:
    """The river's forecast for every municipality in its 浸水想定地区 (expected flood area)."""
    name = ""
    for information in children(child(report.head, "Headline"), "Information"):
        kind = text(information, "Item", "Kind", "Name")
        if kind and (not name or information.get("type") == "指定河川洪水予報（河川）"):
            name = kind
    if not name:
        raise InvalidInput(
            "Head/Headline/Information/Item/Kind/Name is missing",
            field="Head/Headline/Information",
        )
    # JMA's own samples include a forecast with an empty Body: nothing to place then.
    warning = _optional_warning(report, "指定河川洪水予報")
    main = ""
    for prop in descendants(warning, "Property"):
        if text(prop, "Type") == "主文":
            main = text(prop, "Text")
            break
    parsed = Parsed(summary="\n".join(part for part in (report.headline, main) if part))
    hazard = flood_hazard(name, report.head_title or name, report.headline)
    findings: list[Finding] = []
    for item in children(warning, "Item"):
        if text(item, "Kind", "Name") != "浸水想定地区":
            continue
        for area in descendants(item, "Area"):
            city, city_code = text(area, "City"), text(area, "CityCode")
            code = municipality_from_jma_code(city_code)
            if code is None:
                parsed.unmapped_areas.append(f"{city} ({city_code})")
                continue
            findings.append(Finding(code, city, hazard, name))
    parsed.notices = merge(findings)
    if hazard is None and not parsed.notices:
        parsed.lifts_all = True
    elif not parsed.notices and not parsed.unmapped_areas:
        parsed.unmapped_areas.append(f"{report.head_title or name}（浸水想定地区なし）")
    return parsed


# ---------------------------------------------------------------------------------------------
# 震度速報 (VXSE51) and 震源・震度に関する情報 (VXSE53)


def intensity_hazard(intensity: str) -> Hazard:
    label, severity = INTENSITIES[intensity]
    return Hazard(f"地震（{label}）", "Geo", severity, "Immediate", "Observed")


def _at_least(intensity: str, threshold: str) -> bool:
    return INTENSITY_ORDER.index(intensity) >= INTENSITY_ORDER.index(threshold)


def _intensity(element: etree._Element) -> str | None:
    value = text(element, "MaxInt")
    if value in INTENSITIES:
        return value
    if "未入電" in text(element, "Condition"):
        return UNREPORTED_STRONG
    return None


def _quake_summary(report: Report) -> str:
    earthquake = child(report.body, "Earthquake")
    parts = [report.headline]
    place = text(earthquake, "Hypocenter", "Area", "Name")
    if place:
        parts.append(f"震源：{place}")
    magnitude = child(earthquake, "Magnitude")
    if magnitude is not None:
        parts.append(f"規模：{magnitude.get('description') or magnitude.text}")
    for comment in descendants(child(report.body, "Comments"), "Text"):
        if comment.text:
            parts.append(comment.text.strip())
    free = text(report.body, "Comments", "FreeFormComment")
    if free:
        parts.append(free)
    return "\n".join(part for part in parts if part)


def parse_intensity_flash(report: Report) -> Parsed:
    """震度速報: every municipality of each region that saw 震度３ or more."""
    parsed = Parsed(summary=_quake_summary(report))
    findings: list[Finding] = []
    observation = child(report.body, "Intensity", "Observation")
    for pref in children(observation, "Pref"):
        for area in children(pref, "Area"):
            name, code = text(area, "Name"), text(area, "Code")
            intensity = _intensity(area)
            if intensity is None or not _at_least(intensity, ALERT_INTENSITY):
                continue
            municipalities = region_municipalities(SEISMIC_REGIONS, code)
            if municipalities is None:
                parsed.unmapped_areas.append(f"{name} ({code})")
                continue
            label = INTENSITIES[intensity][0]
            for municipality in municipalities:
                findings.append(
                    Finding(municipality, name, intensity_hazard(intensity), f"{name}：{label}")
                )
    parsed.notices = _strongest_only(merge(findings))
    return parsed


def parse_quake_detail(report: Report) -> Parsed:
    """震源・震度に関する情報: each municipality's own 震度; below 震度３, what an earlier 震度速報
    said of it is withdrawn."""
    parsed = Parsed(summary=_quake_summary(report))
    findings: list[Finding] = []
    observation = child(report.body, "Intensity", "Observation")
    for pref in children(observation, "Pref"):
        for area in children(pref, "Area"):
            for city in children(area, "City"):
                name, city_code = text(city, "Name"), text(city, "Code")
                intensity = _intensity(city)
                if intensity is None:
                    continue
                code = municipality_from_jma_code(city_code)
                if code is None:
                    parsed.unmapped_areas.append(f"{name} ({city_code})")
                    continue
                label = INTENSITIES[intensity][0]
                if _at_least(intensity, ALERT_INTENSITY):
                    hazard: Hazard | None = intensity_hazard(intensity)
                    line = f"{name}：{label}"
                    if "未入電" in text(city, "Condition"):
                        line = f"{name}：震度５弱以上未入電"
                else:
                    hazard, line = None, f"{name}：{label}（震度３未満）"
                findings.append(Finding(code, name, hazard, line))
    parsed.notices = _strongest_only(merge(findings))
    return parsed


def combine(code: str, notices: list[Notice], single_hazard: bool) -> Notice:
    """Several notices as one, for municipality `code` (the wards of a city, or the reverse)."""
    combined = Notice(code, [], [], [])
    for notice in notices:
        for name in notice.area_names:
            if name not in combined.area_names:
                combined.area_names.append(name)
        for hazard in notice.hazards:
            if hazard not in combined.hazards:
                combined.hazards.append(hazard)
        for line in notice.lines:
            if line not in combined.lines:
                combined.lines.append(line)
    if single_hazard and combined.hazards:
        combined.hazards = [combined.top]
    return combined


def _strongest_only(notices: list[Notice]) -> list[Notice]:
    # A municipality has one intensity: the highest of its stations and regions.
    for notice in notices:
        if len(notice.hazards) > 1:
            notice.hazards = [notice.top]
    return notices


# ---------------------------------------------------------------------------------------------
# 津波警報・注意報・予報a (VTSE41)


def tsunami_hazard(name: str, arrived: bool) -> Hazard | None:
    """大津波警報 Extreme, 津波警報 Severe, 津波注意報 Moderate; 解除 and 津波予報 are None."""
    if "解除" in name or not ("警報" in name or "注意報" in name):
        return None
    event = name.split("：")[0]
    certainty = "Observed" if arrived else "Likely"
    if "大津波警報" in name:
        return Hazard(event, "Geo", "Extreme", "Immediate", certainty)
    if "津波警報" in name:
        return Hazard(event, "Geo", "Severe", "Immediate", certainty)
    return Hazard(event, "Geo", "Moderate", "Immediate", certainty)


def parse_tsunami(report: Report) -> Parsed:
    """Each 津波予報区 (tsunami forecast region) to its coastal municipalities."""
    comments = [
        element.text.strip()
        for element in descendants(child(report.body, "Comments"), "Text")
        if element.text
    ]
    parsed = Parsed(summary="\n".join([report.headline, *comments]).strip())
    findings: list[Finding] = []
    forecast = child(report.body, "Tsunami", "Forecast")
    for item in children(forecast, "Item"):
        name, code = text(item, "Area", "Name"), text(item, "Area", "Code")
        kind = text(item, "Category", "Kind", "Name")
        first = child(item, "FirstHeight")
        condition = text(first, "Condition")
        hazard = tsunami_hazard(kind, arrived="到達" in condition)
        municipalities = region_municipalities(TSUNAMI_REGIONS, code)
        if municipalities is None:
            if hazard is not None:
                parsed.unmapped_areas.append(f"{name} ({code})")
            continue
        line = f"{name}：{kind}"
        height = child(item, "MaxHeight")
        tsunami_height = next(descendants(height, "TsunamiHeight"), None)
        if tsunami_height is not None:
            line += f"、予想される高さ {tsunami_height.get('description') or tsunami_height.text}"
        elif text(height, "Condition"):
            line += f"、{text(height, 'Condition')}"
        arrival = text(first, "ArrivalTime")
        if arrival:
            line += f"、第１波 {arrival[11:16]}"
        elif condition:
            line += f"、{condition}"
        for municipality in municipalities:
            findings.append(Finding(municipality, name, hazard, line))
    parsed.notices = merge(findings)
    return parsed


# ---------------------------------------------------------------------------------------------
# The registry


# An earthquake alert leaves the active list after this; JMA sends no "end" for shaking.
QUAKE_LIFETIME = timedelta(hours=12)
R06_PREFIX = "気象警報・注意報（Ｒ０６）"
R06_CODES = {"（大雨）": "VPWW55", "（土砂）": "VPWW56", "（高潮）": "VPWW57", "（暴風）": "VPWW58"}
R06_CODES["（その他注意報）"] = "VPWW61"

PARSED_TYPES = {
    "気象特別警報・警報・注意報": TelegramType(
        "VPWW53", "気象特別警報・警報・注意報", parse_weather, "VPWW53", by_event_id=False
    ),
    "気象警報・注意報（Ｈ２７）": TelegramType(
        "VPWW54",
        "気象警報・注意報（Ｈ２７）",
        parse_weather,
        "VPWW53",
        by_event_id=False,
        same_as="VPWW53",
    ),
    "土砂災害警戒情報": TelegramType(
        "VXWW50", "土砂災害警戒情報", parse_landslide, "VXWW50", category="Geo"
    ),
    "指定河川洪水予報": TelegramType("VXKOii", "指定河川洪水予報", parse_flood, "VXKO"),
    "震度速報": TelegramType(
        "VXSE51",
        "震度速報",
        parse_intensity_flash,
        "quake",
        lifetime=QUAKE_LIFETIME,
        category="Geo",
        single_hazard=True,
    ),
    "震源・震度に関する情報": TelegramType(
        "VXSE53",
        "震源・震度に関する情報",
        parse_quake_detail,
        "quake",
        lifetime=QUAKE_LIFETIME,
        category="Geo",
        single_hazard=True,
    ),
    # Each telegram states every region's tsunami state, so the office is the thread, whatever
    # earthquake (EventID) caused it.
    "津波警報・注意報・予報a": TelegramType(
        "VTSE41",
        "津波警報・注意報・予報a",
        parse_tsunami,
        "tsunami",
        by_event_id=False,
        category="Geo",
    ),
}

_EEW = (
    "seconds matter: 緊急地震速報 reaches phones through the carriers' cell broadcast, not a draft"
)
_QUAKE_FOLLOWS = "震源・震度に関する情報 (VXSE53) carries the municipalities for this earthquake"
_NO_AREA = "a commentary without municipalities or a warning level; the warnings that follow it are"
_SKIPPED = {
    "気象警報・注意報": ("VPWW50", "superseded by VPWW53/54, which list municipalities"),
    "気象特別警報報知": ("VPNO50", "repeats the 特別警報 already in VPWW53/54"),
    "震源に関する情報": ("VXSE52", "hypocentre only, no intensities; " + _QUAKE_FOLLOWS),
    "顕著な地震の震源要素更新のお知らせ": ("VXSE61", "updates the hypocentre, no new hazard"),
    "地震の活動状況等に関する情報": ("VXSE56", _NO_AREA),
    "長周期地震動に関する観測情報": ("VXSE62", "long-period motion by region; " + _QUAKE_FOLLOWS),
    "緊急地震速報（警報）": ("VXSE43", _EEW),
    "緊急地震速報（予報）": ("VXSE44", _EEW),
    "緊急地震速報（地震動予報）": ("VXSE45", _EEW),
    "津波情報a": ("VTSE51", "arrival times and heights; the warning itself is VTSE41"),
    "沖合の津波観測に関する情報": ("VTSE52", "offshore observations; the warning itself is VTSE41"),
    "南海トラフ地震臨時情報": ("VYSE50", "nationwide, no municipality list"),
    "噴火警報・予報": (
        "VFVO50",
        "volcano alert levels by crater, not municipalities (not yet mapped)",
    ),
    "噴火速報": ("VFVO56", "volcano, not yet mapped to municipalities"),
    "府県気象防災速報": ("VPBS50", _NO_AREA),
    "府県気象情報": ("VPFJ50", _NO_AREA),
    "地方気象情報": ("VPCJ50", _NO_AREA),
    "全般気象情報": ("VPZJ50", _NO_AREA),
    "竜巻注意情報": ("VPHW50", "valid one hour for a whole 一次細分区域; too short for review"),
    "竜巻注意情報（目撃情報付き）": ("VPHW51", "valid one hour; too short for review"),
    "記録的短時間大雨情報": ("VPOA50", "an observation; the 大雨警報 it comes with is the alert"),
    "全般台風情報": ("VPTI50", "typhoon track; the warnings it causes are the alerts"),
    "全般台風情報（定型）": ("VPTI51", "typhoon track; the warnings it causes are the alerts"),
    "水位周知河川に関する情報": ("VXSUii", "river water level by station, no municipality list"),
    "熱中症警戒アラート": ("VPFT50", "heat-stroke alert, not a disaster warning"),
    "早期天候情報": ("VPAW51", "long-range outlook"),
    "台風の暴風域に入る確率": ("VPTA51", "probabilities by region; the warnings are the alerts"),
    "台風解析・予報情報（３日予報）": ("VPTW41", "typhoon track; the warnings are the alerts"),
    "台風解析・予報情報（５日予報）（Ｈ３０）": (
        "VPTW61",
        "typhoon track; the warnings are the alerts",
    ),
}
SKIPPED_TYPES = {
    title: TelegramType(code, title, skip_reason=reason)
    for title, (code, reason) in _SKIPPED.items()
}


def telegram_type(title: str) -> TelegramType:
    """The type a Control/Title names; unknown titles are skipped types too (JMA adds new ones,
    and a valid telegram we do not know is not an error)."""
    if title in PARSED_TYPES:
        return PARSED_TYPES[title]
    if title.startswith(R06_PREFIX):
        suffix = title[len(R06_PREFIX) :]
        code = R06_CODES.get(suffix, f"R06{suffix}")
        return TelegramType(code, title, parse_weather, code, by_event_id=False)
    if title in SKIPPED_TYPES:
        return SKIPPED_TYPES[title]
    return TelegramType("", title, skip_reason="a telegram type this integration does not know")


def is_parsed_title(title: str) -> bool:
    """Whether telegrams with this title become alerts (the poller fetches only those)."""
    return telegram_type(title).parse is not None
