"""Fixtures for the CAP tests: settings with trusted senders, a small migrated database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree
from shapely.geometry import box

from kizuna.areas import upsert_municipality
from kizuna.db import Database, new_id
from kizuna.migrate import upgrade
from kizuna.models import User
from kizuna.settings import Settings
from tests.integrations.cap.messages import TRUSTED_SENDER
from tests.support import CITY_A, CITY_A_BOX, CITY_B, CITY_B_BOX, make_settings

# Big enough for every shared sample (the largest is 62 kB), small enough to test 413 cheaply.
MAX_XML_BYTES = 100_000


@pytest.fixture
def settings(tmp_path: Path, database_url: str | None) -> Settings:
    """The live server's settings (overrides tests/conftest.py): a trusted CAP sender."""
    return make_settings(
        tmp_path,
        database_url,
        cap_trusted_senders=[TRUSTED_SENDER],
        max_xml_bytes=MAX_XML_BYTES,
        public_base_url="https://kizuna.example.jp",
    )


def _local_settings(data_dir: Path) -> Settings:
    return Settings(
        data_dir=data_dir,
        secret_key="test-secret-key-that-is-long-enough-for-hs256",
        cap_trusted_senders=[TRUSTED_SENDER],
        max_xml_bytes=MAX_XML_BYTES,
    )


def _database(settings: Settings) -> Database:
    """A migrated SQLite database with the two test cities and one user per role we need."""
    upgrade(settings)
    database = Database(settings.resolved_database_url)
    with database.session() as session:
        upsert_municipality(session, CITY_A, "Atown", box(*CITY_A_BOX))
        upsert_municipality(session, CITY_B, "Btown", box(*CITY_B_BOX))
        # Services take the user object; nobody logs in here, so no password hashing.
        for username, role, codes in (
            ("officer-a", "officer", [CITY_A]),
            ("officer-b", "officer", [CITY_B]),
            ("media", "media", [CITY_A]),
            ("admin", "admin", []),
        ):
            session.add(
                User(
                    id=new_id(),
                    username=username,
                    password_hash="!",
                    role=role,
                    municipality_codes=codes,
                )
            )
    return database


@pytest.fixture
def local_settings(tmp_path: Path) -> Settings:
    """Settings for tests that use the services directly on a SQLite file, with no server."""
    return _local_settings(tmp_path)


@pytest.fixture
def database(local_settings: Settings) -> Iterator[Database]:
    """A fresh database for one test."""
    database = _database(local_settings)
    yield database
    database.dispose()


@pytest.fixture(scope="module")
def module_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings shared by a module's tests (for many imports of distinct messages)."""
    return _local_settings(tmp_path_factory.mktemp("cap"))


@pytest.fixture(scope="module")
def module_database(module_settings: Settings) -> Iterator[Database]:
    """One database for a module whose tests import distinct messages into it."""
    database = _database(module_settings)
    yield database
    database.dispose()


@pytest.fixture
def cap12_schema(shared_data: Path) -> etree.XMLSchema:
    """The OASIS CAP 1.2 XSD from the shared data set (the tests' independent judge)."""
    return etree.XMLSchema(etree.parse(str(shared_data / "cap" / "schema" / "cap12.xsd")))
