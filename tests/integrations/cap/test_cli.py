"""`kizuna cap import` and `kizuna cap export` as an operator runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from lxml import etree
from sqlalchemy import select

from alerts.models import Alert
from integrations.cap.xmldoc import cap_schema
from kizuna.db import Database
from kizuna.models import User
from kizuna.settings import Settings
from tests.integrations.cap.messages import cap_message


def kizuna(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KIZUNA_DATA_DIR": str(data_dir), "COLUMNS": "200"}
    env.pop("KIZUNA_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "kizuna", "cap", *args],
        env=env,
        text=True,
        capture_output=True,
        timeout=120,
    )


def stored_alerts(data_dir: Path) -> list[tuple[str, str, str]]:
    """(state, creator, first headline) of every alert in the CLI's database."""
    database = Database(Settings(data_dir=data_dir).resolved_database_url)
    try:
        with database.session() as session:
            rows = session.execute(
                select(Alert, User.username).join(User, User.id == Alert.created_by)
            ).all()
            return [
                (alert.state, username, alert.draft["info"][0]["headline"])
                for alert, username in rows
            ]
    finally:
        database.dispose()


def test_a_feed_file_imports_the_cap_files_it_links_as_drafts(tmp_path: Path) -> None:
    folder = tmp_path / "incoming"
    (folder / "cap").mkdir(parents=True)
    (folder / "cap" / "one.xml").write_bytes(cap_message(identifier="cli-1"))
    (folder / "cap" / "two.xml").write_bytes(cap_message(identifier="cli-2"))
    entries = "".join(
        f'<entry><id>urn:{name}</id><link type="application/cap+xml" href="cap/{name}.xml"/>'
        "</entry>"
        for name in ("one", "two")
    )
    feed = folder / "feed.atom"
    feed.write_text(f'<feed xmlns="http://www.w3.org/2005/Atom">{entries}</feed>')

    result = kizuna(tmp_path / "data", "import", str(feed))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "cli-1" in result.stdout and "cli-2" in result.stdout
    assert stored_alerts(tmp_path / "data") == [
        ("draft", "system-cap", "Flood warning"),
        ("draft", "system-cap", "Flood warning"),
    ]


def test_trusted_import_issues_and_export_prints_valid_cap(tmp_path: Path) -> None:
    message = tmp_path / "alert.cap"
    message.write_bytes(cap_message(identifier="cli-trusted"))

    imported = kizuna(tmp_path / "data", "import", str(message), "--trusted")

    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert "issued" in imported.stdout
    [(state, _, _)] = stored_alerts(tmp_path / "data")
    assert state == "issued"
    database = Database(Settings(data_dir=tmp_path / "data").resolved_database_url)
    with database.session() as session:
        alert_id = session.scalars(select(Alert.id)).one()
    database.dispose()
    exported = kizuna(tmp_path / "data", "export", alert_id)
    assert exported.returncode == 0, exported.stderr
    root = etree.fromstring(exported.stdout.encode())
    assert cap_schema().validate(root)
    assert b"<identifier>cli-trusted</identifier>" in exported.stdout.encode()


def test_a_refused_file_exits_with_the_reason_and_stores_nothing(tmp_path: Path) -> None:
    message = tmp_path / "old.cap"
    message.write_bytes(cap_message(namespace="urn:oasis:names:tc:emergency:cap:1.1"))

    result = kizuna(tmp_path / "data", "import", str(message))

    assert result.returncode == 2
    assert "CAP 1.1 is not accepted; send CAP 1.2" in result.stdout
    assert stored_alerts(tmp_path / "data") == []
