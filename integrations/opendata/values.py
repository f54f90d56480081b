"""Reading the values of Japanese shelter open data: text, encodings, capacities, hazards, times."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

from kizuna.errors import InvalidInput

JST = timezone(timedelta(hours=9), "JST")  # Japan keeps no summer time

# The designated-site columns of the GSI data (and, prefixed 災害種別_, of the standard data set).
GSI_HAZARD_COLUMNS = {
    "洪水": "flood",
    "崖崩れ土石流及び地滑り": "landslide",
    "高潮": "storm_surge",
    "地震": "earthquake",
    "津波": "tsunami",
    "大規模な火事": "fire",
    "内水氾濫": "inland_flood",
    "火山現象": "volcano",
}
# Words in free-text hazard lists (徳島県: "洪水,崖崩れ等,津波"), matched as substrings.
HAZARD_WORDS = (
    ("内水", "inland_flood"),
    ("洪水", "flood"),
    ("崖崩れ", "landslide"),
    ("がけ崩れ", "landslide"),
    ("土石流", "landslide"),
    ("地滑り", "landslide"),
    ("地すべり", "landslide"),
    ("土砂", "landslide"),
    ("高潮", "storm_surge"),
    ("地震", "earthquake"),
    ("津波", "tsunami"),
    ("火事", "fire"),
    ("火災", "fire"),
    ("火山", "volcano"),
    ("噴火", "volcano"),
)
ENGLISH_HAZARDS = frozenset(hazard for _, hazard in HAZARD_WORDS)
KINDS = ("evacuation_site", "shelter", "welfare_shelter")
TRUE_FLAGS = frozenset(
    ("1", "1.0", "○", "〇", "◯", "●", "◎", "true", "yes", "y", "有", "可", "該当")
)
FALSE_FLAGS = frozenset(("", "0", "0.0", "×", "✕", "-", "―", "false", "no", "n", "無", "否", "nan"))
ERAS = {"令和": 2018, "平成": 1988, "昭和": 1925, "R": 2018, "H": 1988, "S": 1925}


@dataclass
class Decoded:
    text: str
    encoding: str


def decode(data: bytes) -> Decoded:
    """Decode a published file: UTF-8 (with or without BOM), then Shift_JIS, then CP932, strictly.

    Anything else is refused rather than guessed, so a mis-encoded file never stores mojibake.
    """
    if b"\x00" in data:
        # UTF-16 (with or without a BOM) and binary files carry NUL bytes; text we read never does.
        raise InvalidInput(
            "the file contains NUL bytes: is it UTF-16 or binary? Save it as UTF-8 or Shift_JIS",
            field="file",
            code="bad_encoding",
        )
    if data.startswith(b"\xef\xbb\xbf"):
        candidates = ["utf-8-sig"]
    else:
        candidates = ["utf-8", "shift_jis", "cp932"]
    failure: UnicodeDecodeError | None = None
    for encoding in candidates:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError as exc:
            failure = failure or exc
            continue
        return Decoded(text, "utf-8-bom" if encoding == "utf-8-sig" else encoding)
    where = f" (byte 0x{data[failure.start]:02x} at offset {failure.start})" if failure else ""
    raise InvalidInput(
        f"the file is neither UTF-8 nor Shift_JIS/CP932{where}; save it in one of those",
        field="file",
        code="bad_encoding",
    )


def clean(value: object) -> str:
    """NFKC-normalised text (full-width digits and letters become ASCII), spaces collapsed."""
    if value is None:
        return ""
    return " ".join(unicodedata.normalize("NFKC", str(value)).split())


def column_key(name: str) -> str:
    """How column names are compared: NFKC, no spaces, ASCII lower case."""
    return "".join(unicodedata.normalize("NFKC", name).split()).lower()


def hazard_column(name: str) -> str | None:
    """The hazard a flag column stands for (GSI `洪水` or standard `災害種別_洪水`), if any."""
    key = column_key(name).removeprefix("災害種別_")
    key = re.sub(r"[、,・]", "", key)
    return GSI_HAZARD_COLUMNS.get(key)


def flag(value: str) -> bool | None:
    """A hazard flag: True, False, or None when the value is not understood."""
    text = clean(value).lower()
    if text in TRUE_FLAGS:
        return True
    if text in FALSE_FLAGS:
        return False
    try:
        return float(text) != 0
    except ValueError:
        return None


@dataclass
class Hazards:
    hazards: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)


def hazards_from_text(text: str) -> Hazards:
    """Hazards named in a free-text list such as `洪水,崖崩れ等,地震` or `flood, tsunami`."""
    found = Hazards()
    for token in re.split(r"[,、;/・\s]+", clean(text)):
        if not token:
            continue
        if token.lower() in ENGLISH_HAZARDS:
            found.hazards.append(token.lower())
            continue
        matched = [hazard for word, hazard in HAZARD_WORDS if word in token]
        if matched:
            found.hazards.extend(matched)
        else:
            found.unknown.append(token)
    found.hazards = sorted(set(found.hazards))
    return found


def kind_from_text(text: str) -> str | None:
    """The kind a classification names: 福祉避難所, 指定避難所, 指定緊急避難場所 or English."""
    value = clean(text)
    if value.lower() in KINDS:
        return value.lower()
    if "福祉" in value:
        return "welfare_shelter"
    if "避難所" in value:
        return "shelter"
    if "避難場所" in value or "避難地" in value:
        return "evacuation_site"
    return None


def integer(text: str) -> int | None:
    """A whole number written as `1,371`, `１３７１`, `1371人` or `1371.0`; None otherwise."""
    value = clean(text).replace(",", "").removesuffix("人").strip()
    if re.fullmatch(r"[+-]?\d+", value):
        return int(value)
    if re.fullmatch(r"[+-]?\d+\.0*", value):
        return int(float(value))
    return None


@dataclass(frozen=True)
class Capacity:
    value: int | None
    understood: bool


def capacity(text: str, kind: str) -> Capacity:
    """Capacity from a number or from free text such as `屋内191人／屋外0人(面積の1/2)`.

    Shelters (people stay indoors) count the indoor places; evacuation sites, where people
    gather outdoors too, count indoor plus outdoor.
    """
    value = clean(text)
    if not value:
        return Capacity(None, True)
    plain = integer(value)
    if plain is not None:
        return Capacity(plain, True)
    # The parenthesis says how the area was counted, e.g. (面積の1/2); its digits are no count.
    value = re.sub(r"\([^)]*\)", "", value).replace(",", "")
    indoor = re.search(r"屋内\D{0,3}?(\d+)", value)
    outdoor = re.search(r"屋外\D{0,3}?(\d+)", value)
    if indoor or outdoor:
        inside = int(indoor.group(1)) if indoor else 0
        outside = int(outdoor.group(1)) if outdoor else 0
        return Capacity(inside if kind != "evacuation_site" else inside + outside, True)
    counted = re.fullmatch(r"(?:約|最大)?(\d+)(?:人|名)?(?:程度)?", value)
    if counted:
        return Capacity(int(counted.group(1)), True)
    return Capacity(None, False)


def coordinate(text: str) -> float | None:
    """A decimal coordinate (full-width digits allowed); None when empty or not a number."""
    value = clean(text).replace(",", "")
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if number == number and abs(number) != float("inf") else None


_ERA_TIME = re.compile(
    r"(?P<era>令和|平成|昭和|[RHS])?\s*(?P<year>\d{1,4}|元)年\s*(?P<month>\d{1,2})月\s*(?P<day>\d{1,2})日"
    r"(?:\s*\([^)]*\))?\s*(?:(?P<ampm>午前|午後)?\s*(?P<hour>\d{1,2})時(?:\s*(?P<minute>\d{1,2})分)?)?"
)
_ISO_TIME = re.compile(
    r"(?P<year>\d{4})[-/.](?P<month>\d{1,2})[-/.](?P<day>\d{1,2})"
    r"(?:[ T-]?(?P<hour>\d{1,2})[:時]?(?P<minute>\d{2})(?::(?P<second>\d{2}))?)?"
    r"(?P<zone>Z|[+-]\d{2}:?\d{2})?"
)


def japanese_time(text: str) -> datetime | None:
    """A time as Japanese publications write it, timezone-aware (JST unless stated).

    Understands `令和6年1月9日午後6時`, `2024年1月9日18時30分`, `2024-08-29 16:53:00` and
    `2024-01-09-1800` (as in file names).
    """
    value = clean(text)
    match = _ERA_TIME.search(value)
    if match:
        year_text = match["year"]
        year = 1 if year_text == "元" else int(year_text)
        if match["era"]:
            year += ERAS[match["era"]]
        hour = int(match["hour"] or 0)
        if match["ampm"] == "午後" and hour < 12:
            hour += 12
        elif match["ampm"] == "午前" and hour == 12:
            hour = 0
        return _build(year, int(match["month"]), int(match["day"]), hour, match["minute"], None)
    match = _ISO_TIME.search(value)
    if match:
        moment = _build(
            int(match["year"]),
            int(match["month"]),
            int(match["day"]),
            int(match["hour"] or 0),
            match["minute"],
            match["second"],
        )
        if moment is not None and match["zone"]:
            zone = match["zone"]
            if zone == "Z":
                return moment.replace(tzinfo=UTC)
            sign = 1 if zone[0] == "+" else -1
            digits = zone[1:].replace(":", "")
            offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
            return moment.replace(tzinfo=timezone(sign * offset))
        return moment
    return None


def _build(
    year: int, month: int, day: int, hour: int, minute: str | None, second: str | None
) -> datetime | None:
    try:
        return datetime(year, month, day, hour, int(minute or 0), int(second or 0), tzinfo=JST)
    except ValueError:
        return None


def status_from_text(text: str) -> str | None:
    """A published opening state: 開設 → open, 閉鎖/未開設 → closed, 満員 → full."""
    value = clean(text).lower()
    if not value:
        return None
    if value in ("open", "closed", "full"):
        return value
    if "満" in value:
        return "full"
    if "閉" in value or "未開設" in value or "解除" in value:
        return "closed"
    if "開設" in value or "開所" in value:
        return "open"
    return None
