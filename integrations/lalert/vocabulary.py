"""The 公共情報コモンズ (L-Alert) vocabulary: namespaces, 発令区分 ↔ 警戒レベル, statuses."""

from __future__ import annotations

import re
import unicodedata
from datetime import timedelta, timezone

EDXL = "urn:oasis:names:tc:emergency:EDXL:DE:1.0"
COMMONS = "http://xml.publiccommons.ne.jp/xml/edxl/"
ATOM = "http://www.w3.org/2005/Atom"
SOAP_ENVELOPES = (
    "http://schemas.xmlsoap.org/soap/envelope/",  # SOAP 1.1, what the Commons MQ service speaks
    "http://www.w3.org/2003/05/soap-envelope",  # SOAP 1.2
)
SOAP_PUBLISH = "http://soap.publiccommons.ne.jp/"
XMLDSIG = "http://www.w3.org/2000/09/xmldsig#"
# Every pcxml namespace (Report, informationBasis, elementBasis, body/*, code lists) and the
# commons extensions live under this prefix; the version digit differs (2, 3, 4).
PUBLICCOMMONS_PREFIX = "http://xml.publiccommons.ne.jp/"
KNOWN_NAMESPACES = (EDXL, COMMONS, SOAP_PUBLISH, XMLDSIG, *SOAP_ENVELOPES)

REPORT_NAMESPACE = re.compile(r"^http://xml\.publiccommons\.ne\.jp/pcxml1/(\d+)/?$")


def pcxml_namespaces(version: int) -> dict[str, str]:
    """The pcxml namespaces of one version (3 or 4), by the prefixes the official samples use."""
    base = "http://xml.publiccommons.ne.jp/pcxml1"
    return {
        "pcxml": f"{base}/{version}",
        "pcx_ib": f"{base}/informationBasis{version}/",
        "pcx_eb": f"{base}/elementBasis{version}/",
        "pcx_ev": f"{base}/body/evacuation{version}",
        "pcx_sh": f"{base}/body/shelter{version}",
    }


# What we write: pcxml v4, the newest version in the published samples (2013 onwards).
EXPORT_PCXML_VERSION = 4

JST = timezone(timedelta(hours=9), "JST")

# commons:category values; only EvacuationOrder becomes an alert (Shelter comes later).
EVACUATION_ORDER = "EvacuationOrder"
SHELTER = "Shelter"
CATEGORY_LABELS = {
    EVACUATION_ORDER: "避難勧告・指示情報",
    SHELTER: "避難所情報",
}

ISSUE = "発令"
LIFT = "解除"

# 発令区分 (Detail/Sort) → 警戒レベル. The 2021 revision of the Disaster
# Countermeasures Basic Act renamed them: 避難準備(・高齢者等避難開始) →
# 高齢者等避難 (3), 避難勧告 was merged into 避難指示 (4), 緊急安全確保 (5)
# is new. 警戒区域 (a legally closed zone, 災対法 63条) ranks above 避難指示
# in the LGDIS transition table, so it counts as 5.
SORT_LEVELS: dict[str, int] = {
    "高齢者等避難": 3,
    "避難準備・高齢者等避難開始": 3,
    "避難準備": 3,
    "避難勧告": 4,
    "避難指示": 4,
    "避難指示(緊急)": 4,
    "緊急安全確保": 5,
    "警戒区域": 5,
}
# What we write for our own levels: the current names.
LEVEL_SORTS: dict[int, str] = {3: "高齢者等避難", 4: "避難指示", 5: "緊急安全確保"}

# 実運用 / 訓練 / 試験 (Control) and EDXL distributionStatus → our status. A System message is
# network housekeeping, never for residents: it is treated as a test.
STATUSES: dict[str, str] = {
    "実運用": "Actual",
    "Actual": "Actual",
    "訓練": "Exercise",
    "Exercise": "Exercise",
    "試験": "Test",
    "Test": "Test",
    "System": "Test",
}

CAP_SEVERITIES = ("Extreme", "Severe", "Moderate", "Minor", "Unknown")
CAP_URGENCIES = ("Immediate", "Expected", "Future", "Past", "Unknown")
CAP_CERTAINTIES = ("Observed", "Likely", "Possible", "Unlikely", "Unknown")

# (severity, urgency, certainty) when a message leaves commons:severity/urgency/certainty out.
LEVEL_DEFAULTS: dict[int | None, tuple[str, str, str]] = {
    3: ("Moderate", "Expected", "Likely"),
    4: ("Severe", "Immediate", "Likely"),
    5: ("Extreme", "Immediate", "Observed"),
    None: ("Unknown", "Unknown", "Unknown"),
}

# A circle of radius 0 is the representative point of a 町丁目 whose boundary we do not hold;
# we warn this far around it (a typical 町丁目 is a few hundred metres across), erring on the side
# of reaching more residents rather than nobody.
POINT_RADIUS_KM = 0.5


def normalize_word(text: str) -> str:
    """Full-width to half-width (NFKC) and no spaces: how 発令区分 are compared."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


_SORT_KEYS = {normalize_word(sort): level for sort, level in SORT_LEVELS.items()}


def sort_level(sort: str) -> int | None:
    """The 警戒レベル of a 発令区分, or None when the text names none we know."""
    word = normalize_word(sort)
    if word in _SORT_KEYS:
        return _SORT_KEYS[word]
    return strongest_level_in(word)


def strongest_level_in(text: str) -> int | None:
    """The highest 警戒レベル any 発令区分 named in free text stands for (None if none is)."""
    word = normalize_word(text)
    levels = [level for sort, level in _SORT_KEYS.items() if sort in word]
    return max(levels) if levels else None
