"""Exercise and Test alerts: who they reach, and the mark every human-readable text carries.

Only `Actual` alerts go to every resident in the area. Anything else (Exercise, Test, and a
System message imported as Test) goes only to residents who opted in to drills, and its headline
starts with a mark in the text's own language, so no format can pass a drill off as real.
"""

from __future__ import annotations

# Keyed by language tag as alerts store them (normalized BCP 47); Tagalog normalizes to `fil`.
EXERCISE_MARKS: dict[str, str] = {
    "ja": "【訓練】",
    "ja-x-easy": "【くんれん】",
    "en": "[EXERCISE] ",
    "zh-Hans": "【演习】",
    "zh-Hant": "【演習】",
    "ko": "[훈련] ",
    "vi": "[DIỄN TẬP] ",
    "ne": "[अभ्यास] ",
    "pt": "[SIMULADO] ",
    "es": "[SIMULACRO] ",
    "fil": "[PAGSASANAY] ",
    "th": "[ฝึกซ้อม] ",
    "id": "[LATIHAN] ",
}
TEST_MARKS: dict[str, str] = {
    "ja": "【テスト】",
    "ja-x-easy": "【テスト】",
    "en": "[TEST] ",
    "zh-Hans": "【测试】",
    "zh-Hant": "【測試】",
    "ko": "[테스트] ",
    "vi": "[THỬ NGHIỆM] ",
    "ne": "[परीक्षण] ",
    "pt": "[TESTE] ",
    "es": "[PRUEBA] ",
    "fil": "[PAGSUBOK] ",
    "th": "[ทดสอบ] ",
    "id": "[UJI COBA] ",
}
# Traditional Chinese where the tag names no script but a region that writes it.
_HANT_REGIONS = ("tw", "hk", "mo")


def is_drill(status: str) -> bool:
    """Whether a version with this CAP status is a drill: anything but `Actual`."""
    return status != "Actual"


def _key(language: str, marks: dict[str, str]) -> str:
    """The table entry for a language tag: exact, then Chinese script, then primary subtag."""
    lowered = {tag.lower(): tag for tag in marks}
    tag = language.strip().lower()
    if tag in lowered:
        return lowered[tag]
    parts = tag.split("-")
    if parts[0] == "zh":
        return "zh-Hant" if "hant" in parts or any(p in _HANT_REGIONS for p in parts) else "zh-Hans"
    if parts[0] == "tl":
        return "fil"
    return lowered.get(parts[0], "en")


def mark(status: str, language: str) -> str:
    """The prefix a headline in `language` carries for `status` ("" for Actual)."""
    if not is_drill(status):
        return ""
    marks = EXERCISE_MARKS if status == "Exercise" else TEST_MARKS
    return marks[_key(language, marks)]


def marked_headline(status: str, language: str, headline: str) -> str:
    """The headline as residents and other systems see it: marked when it is a drill.

    An officer may already have written the mark themselves; it is not doubled.
    """
    prefix = mark(status, language)
    if not prefix or headline.startswith(prefix.strip()):
        return headline
    return prefix + headline
