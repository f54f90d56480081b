"""README tells an operator every setting there is, and names none that does not exist."""

from __future__ import annotations

import re
from pathlib import Path

from kizuna.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_setting_is_documented_and_every_documented_one_exists() -> None:
    text = README.read_text()
    settings = {f"KIZUNA_{name.upper()}" for name in Settings.model_fields}
    mentioned = set(re.findall(r"KIZUNA_[A-Z_]+[A-Z]", text))
    # Variables the tests and compose read that are not settings of the app itself.
    outside = {"KIZUNA_REQUIRE_SERVICES", "KIZUNA_SHARED_DATA"}
    assert settings - mentioned == set(), "settings missing from README"
    assert mentioned - settings - outside == set(), "README names settings that do not exist"
