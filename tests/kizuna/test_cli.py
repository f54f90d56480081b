"""The `kizuna` command as an operator uses it: migrate, import areas, create users, seed a demo."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import inspect

from kizuna.db import Database
from kizuna.settings import Settings
from tests.support import kizuna_command


def write_boundaries(path: Path) -> None:
    features = [
        {
            "type": "Feature",
            "properties": {"N03_004": "Atown", "N03_007": "99998"},
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[139.0, 35.0], [139.1, 35.0], [139.1, 35.1], [139.0, 35.0]]],
            },
        },
        {
            "type": "Feature",
            "properties": {"N03_004": "Atown", "N03_007": "99998"},
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[139.0, 35.0], [139.1, 35.1], [139.0, 35.1], [139.0, 35.0]]],
            },
        },
        {
            "type": "Feature",
            "properties": {"N03_004": None, "N03_007": None},
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[140.0, 35.0], [140.1, 35.0], [140.1, 35.1], [140.0, 35.0]]],
            },
        },
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))


def test_db_upgrade_creates_every_table(tmp_path: Path) -> None:
    result = kizuna_command(tmp_path, "db", "upgrade")
    assert result.returncode == 0, result.stderr
    database = Database(Settings(data_dir=tmp_path).resolved_database_url)
    tables = set(inspect(database.engine).get_table_names())
    database.dispose()
    assert {
        "alerts",
        "alert_versions",
        "subscriptions",
        "deliveries",
        "users",
        "municipalities",
        "outbox_events",
        "alembic_version",
    } <= tables


def test_areas_import_merges_features_and_users_create_checks_codes(tmp_path: Path) -> None:
    boundaries = tmp_path / "n03.geojson"
    write_boundaries(boundaries)
    imported = kizuna_command(
        tmp_path,
        "areas",
        "import",
        str(boundaries),
        "--code-property",
        "N03_007",
        "--name-property",
        "N03_004",
    )
    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert "999989" in imported.stdout
    assert "imported 1 municipalities; skipped 1" in imported.stdout

    created = kizuna_command(
        tmp_path,
        "users",
        "create",
        "sato",
        "--role",
        "officer",
        "--municipality",
        "99998",
        "--password",
        "long-enough-pw",
    )
    assert created.returncode == 0, created.stdout + created.stderr
    assert "999989" in created.stdout

    unknown = kizuna_command(
        tmp_path,
        "users",
        "create",
        "suzuki",
        "--role",
        "officer",
        "--municipality",
        "13101",
        "--password",
        "long-enough-pw",
    )
    assert unknown.returncode == 2
    assert "unknown municipality code 131016" in unknown.stdout
    bad_role = kizuna_command(
        tmp_path,
        "users",
        "create",
        "tanaka",
        "--role",
        "mayor",
        "--municipality",
        "99998",
        "--password",
        "long-enough-pw",
    )
    assert bad_role.returncode == 2
    assert "unknown role" in bad_role.stdout


def test_demo_seeds_a_city_users_and_residents_once(tmp_path: Path) -> None:
    first = kizuna_command(tmp_path, "demo", "--subscribers", "500")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "demo-officer" in first.stdout
    second = kizuna_command(tmp_path, "demo", "--subscribers", "500")
    assert second.returncode == 0, second.stderr
    assert "500 synthetic residents" in second.stdout
