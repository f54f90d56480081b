"""Shared fixtures: test settings, a live server, and real service availability."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from kizuna.settings import Settings
from tests.services import PrivateRedis, fresh_database, postgres_reason, redis_reason
from tests.support import LiveServer, free_port, make_settings, start_server

REQUIRE_SERVICES = os.environ.get("KIZUNA_REQUIRE_SERVICES") == "1"


def unavailable(service: str, reason: str) -> None:
    """Skip on a laptop without the service; fail in CI, where it must be there."""
    message = f"{service} not reachable ({reason})"
    if REQUIRE_SERVICES:
        pytest.fail(f"{message} and KIZUNA_REQUIRE_SERVICES=1", pytrace=False)
    pytest.skip(message)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test."""
    reason = postgres_reason()
    if reason:
        unavailable("PostgreSQL", reason)
    with fresh_database() as url:
        yield url


@pytest.fixture
def redis_url() -> str:
    """The machine's Redis (db 0 is not flushed: tests use their own key prefixes)."""
    from tests.services import REDIS_URL

    reason = redis_reason()
    if reason:
        unavailable("Redis", reason)
    return REDIS_URL


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    """A redis-server of this test's own, free to be stopped and restarted."""
    import shutil

    if not shutil.which("redis-server"):
        unavailable("redis-server", "binary not installed")
    server = PrivateRedis(free_port(), tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """Run a test once on SQLite and once on PostgreSQL."""
    return str(request.param)


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest) -> str | None:
    if backend == "sqlite":
        return None
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def settings(tmp_path: Path, database_url: str | None) -> Settings:
    return make_settings(tmp_path, database_url)


@pytest.fixture
def server(settings: Settings) -> Iterator[LiveServer]:
    live = start_server(settings)
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture
def shared_data() -> Path:
    """The real data set in ../shared/data, when KIZUNA_SHARED_DATA points at it."""
    location = os.environ.get("KIZUNA_SHARED_DATA")
    if not location:
        pytest.skip("KIZUNA_SHARED_DATA not set: real shared data not available")
    path = Path(location)
    if not path.is_dir():
        pytest.fail(f"KIZUNA_SHARED_DATA={location} is not a directory", pytrace=False)
    return path
