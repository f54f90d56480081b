"""The console's message templates: every language has its own text for every event and level."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from alerts.schemas import normalize_language

TEMPLATES = Path(__file__).resolve().parents[2] / "kizuna/web/static/js/templates.js"
# Print, per language, event and level, the texts and whether each came from that language's own
# entry (rather than the English fallback of `texts`).
DUMP = """
const fs = require("fs");
const T = new Function(fs.readFileSync(process.argv[1], "utf8") + "; return KizunaTemplates;")();
const out = { languages: T.LANGUAGES.map((l) => l.tag), events: Object.keys(T.EVENTS), rows: [] };
for (const { tag } of T.LANGUAGES) {
  for (const event of out.events) {
    for (const level of [3, 4, 5]) {
      const en = T.texts(event, level, "en");
      out.rows.push({ tag, event, level, en, own: T.texts(event, level, tag) });
    }
  }
}
console.log(JSON.stringify(out));
"""
ISSUE_LANGUAGES = [
    "ja", "ja-x-easy", "en", "zh-Hans", "zh-Hant", "ko", "vi", "ne", "pt", "es", "tl", "th", "id",
]  # fmt: skip


def test_every_language_has_its_own_text_for_every_event_and_level() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    dumped = subprocess.run(
        [node, "-e", DUMP, str(TEMPLATES)], capture_output=True, text=True, check=True
    )
    data = json.loads(dumped.stdout)
    assert data["languages"] == ISSUE_LANGUAGES
    assert {"flood", "landslide", "tsunami", "earthquake"} <= set(data["events"])
    for tag in data["languages"]:
        normalize_language(tag)  # the API accepts every tag the console sends
    for row in data["rows"]:
        for part in ("headline", "description", "instruction"):
            assert row["own"][part], row
            if row["tag"] != "en":
                # No silent English fallback; loan words (Tsunami) may match in the description.
                assert row["own"]["instruction"] != row["en"]["instruction"], row
                assert row["own"]["headline"] != row["en"]["headline"], row
