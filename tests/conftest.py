"""Shared fixtures: test settings, a live server, and real service availability."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from kizuna.settings import Settings
from tests.support import LiveServer, start_server

REQUIRE_SERVICES = os.environ.get("KIZUNA_REQUIRE_SERVICES") == "1"


def unavailable(service: str, reason: str) -> None:
    """Skip on a laptop without the service; fail in CI, where it must be there."""
    message = f"{service} not reachable ({reason})"
    if REQUIRE_SERVICES:
        pytest.fail(f"{message} and KIZUNA_REQUIRE_SERVICES=1", pytrace=False)
    pytest.skip(message)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path,
        secret_key="test-secret-key-that-is-long-enough-for-hs256",
        delivery_sweep_interval_s=0.5,
        outbox_poll_interval_s=0.5,
        expiry_check_interval_s=0.5,
    )


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
