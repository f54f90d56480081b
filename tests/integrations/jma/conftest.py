"""Fixtures for the JMA tests: a migrated SQLite database and settings that issue at once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import alerts.models  # noqa: F401  (tables)
import integrations.jma.models  # noqa: F401
import kizuna.models  # noqa: F401
from kizuna.db import Base, Database
from kizuna.settings import Settings


@pytest.fixture
def jma_settings(tmp_path: Path) -> Settings:
    """Settings with JMA telegrams issued at once (so updates and cancels act on them)."""
    return Settings(
        data_dir=tmp_path,
        secret_key="test-secret-key-that-is-long-enough-for-hs256",
        jma_auto_issue=True,
    )


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    """A fresh SQLite database with every table."""
    db = Database(f"sqlite:///{tmp_path / 'jma.db'}")
    Base.metadata.create_all(db.engine)
    try:
        yield db
    finally:
        db.dispose()
