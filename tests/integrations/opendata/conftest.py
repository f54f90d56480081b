"""Fixtures for the open-data importer: a migrated SQLite database per test, the route mounted."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from kizuna.db import Database
from kizuna.migrate import upgrade
from kizuna.settings import Settings


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite file migrated to head; each test works on a copy (migrating is slower)."""
    directory = tmp_path_factory.mktemp("opendata-template")
    upgrade(Settings(data_dir=directory, secret_key="t" * 48))
    return directory / "kizuna.db"


@pytest.fixture
def database(tmp_path: Path, migrated_template: Path) -> Iterator[Database]:
    target = tmp_path / "kizuna.db"
    shutil.copy(migrated_template, target)
    db = Database(f"sqlite:///{target}")
    try:
        yield db
    finally:
        db.dispose()


@pytest.fixture
def session(database: Database) -> Iterator[Session]:
    """A session committed at the end of the test, as the CLI's is."""
    with database.session() as session:
        yield session
