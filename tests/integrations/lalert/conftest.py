"""Fixtures for the L-Alert tests: a small database without a server, the EDXL-DE schema."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree
from shapely.geometry import box

import alerts.models  # noqa: F401  (registers the alert tables on Base.metadata)
from kizuna.areas import upsert_municipality
from kizuna.db import Base, Database
from tests.support import CITY_A, CITY_A_BOX


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    """A fresh SQLite database with city A's boundary: for import tests that need no HTTP."""
    database = Database(f"sqlite:///{tmp_path / 'lalert.db'}")
    Base.metadata.create_all(database.engine)
    with database.session() as session:
        upsert_municipality(session, CITY_A, "Atown", box(*CITY_A_BOX))
    yield database
    database.dispose()


@pytest.fixture
def edxl_schema(shared_data: Path) -> etree.XMLSchema:
    """The OASIS EDXL-DE 1.0 schema from the shared data set."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    document = etree.parse(str(shared_data / "lalert" / "schema" / "edxlde-1_0.xsd"), parser)
    return etree.XMLSchema(document)
