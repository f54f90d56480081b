"""Rate limits on public routes (429 + Retry-After), login lockout, and token revocation."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from alerts.models import Subscription
from kizuna.auth import change_password
from kizuna.db import utcnow
from kizuna.models import RateWindow, User
from kizuna.ratelimit import purge_windows
from tests.support import (
    PASSWORD,
    LiveServer,
    make_settings,
    start_server,
)

PLACE = {"places": [{"label": "home", "lon": 139.02, "lat": 35.05}], "languages": ["ja"]}


@pytest.fixture
def direct(tmp_path: Path) -> Iterator[LiveServer]:
    live = start_server(make_settings(tmp_path))
    try:
        yield live
    finally:
        live.stop()


def login(client: httpx.Client, username: str, password: str, **headers: str) -> httpx.Response:
    return client.post(
        "/api/v1/auth/token", data={"username": username, "password": password}, headers=headers
    )


def subscriptions(server: LiveServer) -> int:
    with server.runtime.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(Subscription)) or 0)


def test_subscriptions_past_the_limit_get_429_with_retry_after(server: LiveServer) -> None:
    server.runtime.settings.subscription_rate_limit = 3
    with server.client() as client:
        codes = [client.post("/api/v1/subscriptions", json=PLACE).status_code for _ in range(3)]
        refused = client.post("/api/v1/subscriptions", json=PLACE)
    assert codes == [201, 201, 201]
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert 0 < int(refused.headers["Retry-After"]) <= 3600
    # The refused one stored nothing.
    assert subscriptions(server) == 3


def test_logins_past_the_address_limit_get_429_whatever_the_password(server: LiveServer) -> None:
    server.runtime.settings.login_rate_limit = 4
    with server.client() as client:
        answers = [login(client, f"officer-{x}", PASSWORD).status_code for x in "aab"]
        answers.append(login(client, "someone", "wrong-password").status_code)
        refused = login(client, "officer-b", PASSWORD)
    assert answers == [200, 200, 200, 401]
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert 0 < int(refused.headers["Retry-After"]) <= server.settings.login_rate_window_s


def test_lockout_refuses_the_right_password_then_lifts(server: LiveServer) -> None:
    settings = server.runtime.settings
    settings.login_max_failures = 3
    settings.login_failure_window_s = 60
    settings.login_lockout_s = 2
    with server.client() as client:
        wrong = [login(client, "officer-a", "wrong-password").status_code for _ in range(3)]
        locked = login(client, "officer-a", PASSWORD)
        # Another account is not affected by officer-a's lock.
        assert login(client, "officer-b", PASSWORD).status_code == 200
        assert wrong == [401, 401, 401]
        assert locked.status_code == 429
        assert locked.json()["error"]["code"] == "locked"
        assert 1 <= int(locked.headers["Retry-After"]) <= 2
        time.sleep(2.2)
        assert login(client, "officer-a", PASSWORD).status_code == 200


def test_an_unknown_username_gets_the_same_answers(server: LiveServer) -> None:
    server.runtime.settings.login_max_failures = 2
    with server.client() as client:
        known = [login(client, "officer-a", "wrong-password") for _ in range(3)]
        unknown = [login(client, "no-such-user", "wrong-password") for _ in range(3)]
    assert [r.status_code for r in known] == [r.status_code for r in unknown] == [401, 401, 429]
    assert [r.json() for r in known] == [r.json() for r in unknown]
    assert known[2].headers["Retry-After"] == unknown[2].headers["Retry-After"]


def test_a_successful_login_resets_the_failures(server: LiveServer) -> None:
    server.runtime.settings.login_max_failures = 3
    with server.client() as client:
        first = [login(client, "officer-a", "wrong-password").status_code for _ in range(2)]
        assert login(client, "officer-a", PASSWORD).status_code == 200
        # Without the reset this would be failures 3 and 4, and the last one locked.
        again = [login(client, "officer-a", "wrong-password").status_code for _ in range(2)]
        assert login(client, "officer-a", PASSWORD).status_code == 200
    assert first == again == [401, 401]


def test_guesses_sent_together_check_at_most_the_allowed_number(server: LiveServer) -> None:
    server.runtime.settings.login_max_failures = 3

    def guess(i: int) -> int:
        with server.client() as client:
            return login(client, "officer-a", f"wrong-password-{i}").status_code

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(guess, range(12)))
    assert codes.count(401) <= 3
    assert codes.count(429) >= 9
    with server.client() as client:
        assert login(client, "officer-a", PASSWORD).status_code == 429


def test_forwarded_for_counts_only_behind_a_trusted_proxy(direct: LiveServer) -> None:
    settings = direct.runtime.settings
    settings.subscription_rate_limit = 1
    with direct.client() as client:
        # Not trusted: a made-up X-Forwarded-For is ignored, everyone is the peer 127.0.0.1.
        assert client.post("/api/v1/subscriptions", json=PLACE).status_code == 201
        spoofed = client.post(
            "/api/v1/subscriptions", json=PLACE, headers={"X-Forwarded-For": "203.0.113.9"}
        )
        assert spoofed.status_code == 429
        settings.trusted_proxies = ["127.0.0.0/8"]
        # Behind the trusted proxy: each client address has its own count; what the client
        # wrote left of the proxy's hop does not pick the bucket.
        first = {"X-Forwarded-For": "203.0.113.10"}
        assert client.post("/api/v1/subscriptions", json=PLACE, headers=first).status_code == 201
        forged = {"X-Forwarded-For": "198.51.100.1, 203.0.113.10"}
        assert client.post("/api/v1/subscriptions", json=PLACE, headers=forged).status_code == 429
        other = {"X-Forwarded-For": "203.0.113.11"}
        assert client.post("/api/v1/subscriptions", json=PLACE, headers=other).status_code == 201


def test_old_windows_are_purged(tmp_path: Path) -> None:
    live = start_server(make_settings(tmp_path), seed=None)
    try:
        now = utcnow()
        with live.runtime.db.session() as session:
            session.add(RateWindow(bucket="old", window_start=now - timedelta(days=3), count=1))
            session.add(RateWindow(bucket="new", window_start=now - timedelta(hours=1), count=1))
        assert purge_windows(live.runtime) == 1
        with live.runtime.db.session() as session:
            assert session.scalars(select(RateWindow.bucket)).all() == ["new"]
        assert "kizuna.purge_rate_windows" in live.runtime.registry.timers
    finally:
        live.stop()


def test_a_password_change_revokes_earlier_tokens(server: LiveServer) -> None:
    token = server.login("officer-a")
    with server.client() as client:
        me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200
        with server.runtime.db.session() as session:
            user = session.scalars(select(User).where(User.username == "officer-a")).one()
            change_password(session, server.runtime.settings, user, "a-new-password-123")
        revoked = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert revoked.status_code == 401
        assert revoked.json()["error"]["code"] == "token_revoked"
        assert login(client, "officer-a", PASSWORD).status_code == 401
        fresh = login(client, "officer-a", "a-new-password-123")
        assert fresh.status_code == 200
        bearer = {"Authorization": f"Bearer {fresh.json()['access_token']}"}
        assert client.get("/api/v1/auth/me", headers=bearer).status_code == 200
