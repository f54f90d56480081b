"""Fixtures for the distributed deployment: PostgreSQL, a private Redis, processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster import Cluster
from tests.services import PrivateRedis


@pytest.fixture
def cluster(tmp_path: Path, postgres_url: str, private_redis: PrivateRedis) -> Iterator[Cluster]:
    deployment = Cluster(tmp_path, postgres_url, private_redis.url)
    try:
        yield deployment
    finally:
        deployment.stop()
