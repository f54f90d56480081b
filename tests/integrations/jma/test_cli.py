"""`kizuna jma ingest` and `kizuna jma poll` as an operator runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from alerts.models import Alert
from kizuna.db import Database
from kizuna.migrate import upgrade
from kizuna.settings import Settings
from tests.integrations.jma.factories import NANAO, code6, landslide, now_jst, serve
from tests.support import free_port


def kizuna(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KIZUNA_DATA_DIR": str(data_dir), "COLUMNS": "200"}
    env.pop("KIZUNA_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "kizuna", "jma", *args],
        env=env,
        text=True,
        capture_output=True,
        timeout=120,
    )


def test_ingest_makes_drafts_from_good_files_and_names_the_bad_one(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    upgrade(settings)
    database = Database(settings.resolved_database_url)
    serve(database, [code6(NANAO)])
    good, bad = tmp_path / "good.xml", tmp_path / "bad.xml"
    good.write_bytes(landslide(now_jst(), {NANAO: "発表"}))
    bad.write_text("<Report>")

    done = kizuna(tmp_path, "ingest", str(bad), str(good))

    assert done.returncode == 1, done.stdout + done.stderr
    assert "refused" in done.stdout and "bad.xml" in done.stdout
    assert (
        "ingested" in done.stdout
        and "VXWW50 土砂災害警戒情報 発表 → 1 alerts (draft)" in done.stdout
    )
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Alert)) == 1
    database.dispose()


def test_a_single_poll_of_an_unreachable_feed_exits_non_zero(tmp_path: Path) -> None:
    done = kizuna(tmp_path, "poll", "--feed", f"http://127.0.0.1:{free_port()}/x.xml", "--once")

    assert done.returncode == 1
    assert "unreachable" in done.stderr
