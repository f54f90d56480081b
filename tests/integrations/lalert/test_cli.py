"""`kizuna lalert import` as an operator runs it on a folder of received messages."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from alerts.models import Alert
from kizuna.db import Database
from kizuna.settings import Settings
from tests.integrations.lalert.factories import shelter_message


def test_the_import_command_reports_each_file_and_fails_only_for_refused_ones(
    tmp_path: Path, shared_data: Path
) -> None:
    messages = sorted((shared_data / "lalert" / "messages").glob("*.xml"))
    shelter = tmp_path / "shelter.xml"
    shelter.write_bytes(shelter_message())
    broken = tmp_path / "broken.xml"
    broken.write_bytes(b"<edxlde:EDXLDistribution")
    env = {**os.environ, "KIZUNA_DATA_DIR": str(tmp_path / "data")}
    env.pop("KIZUNA_DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "-m", "kizuna", "lalert", "import", *map(str, messages), shelter, broken],
        env=env,
        text=True,
        capture_output=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    lines = {line.split(" ", 2)[1]: line.split(" ", 1)[0] for line in result.stdout.splitlines()}
    by_name = {Path(path).name: outcome for path, outcome in lines.items()}
    # The v4-namespace Kakogawa sample is the same document (ID and revision) as the v3 one.
    assert by_name == {
        "commons_v3_evacuation_kakogawa_sample1.xml:": "draft",
        "commons_v4_soap_publish_evacuation_chiyoda_test.xml:": "draft",
        "commons_v4ns_evacuation_kakogawa_sample3.xml:": "duplicate",
        "shelter.xml:": "skipped",
        "broken.xml:": "refused",
    }
    database = Database(Settings(data_dir=tmp_path / "data").resolved_database_url)
    with database.session() as session:
        alerts = list(session.scalars(select(Alert)))
    database.dispose()
    assert sorted((a.municipality_code, a.state) for a in alerts) == [
        ("131016", "draft"),
        ("282103", "draft"),
    ]
