"""Security headers, HSTS only over TLS, CORS off unless configured, secrets from files and
never in logs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest
from pydantic_settings import SettingsError

from kizuna.security import tile_source
from kizuna.settings import Settings
from tests.support import PASSWORD, LiveServer, free_port, http, make_settings, start_server

ROOT = Path(__file__).resolve().parents[2]
KIZUNA = Path(sys.executable).parent / "kizuna"
ORIGIN = "https://portal.city.example.jp"


@pytest.fixture
def sqlite_server(tmp_path: Path) -> Iterator[LiveServer]:
    live = start_server(make_settings(tmp_path))
    try:
        yield live
    finally:
        live.stop()


def test_pages_and_api_answers_carry_the_security_headers(sqlite_server: LiveServer) -> None:
    with sqlite_server.client() as client:
        answers = {
            path: client.get(path)
            for path in ("/", "/console", "/volunteer", "/api/v1/web/config", "/no-such-page")
        }
        answers["login 422"] = client.post("/api/v1/auth/token", data={})
    assert answers["/"].status_code == 200
    assert answers["/no-such-page"].status_code == 404
    for where, answer in answers.items():
        headers = answer.headers
        assert headers["X-Content-Type-Options"] == "nosniff", where
        assert headers["Referrer-Policy"] == "no-referrer", where
        assert headers["X-Frame-Options"] == "DENY", where
        csp = {
            part.split()[0]: part.split()[1:]
            for part in headers["Content-Security-Policy"].split(";")
        }
        assert csp["script-src"] == ["'self'"], where
        assert csp["object-src"] == ["'none'"], where
        assert csp["frame-ancestors"] == ["'none'"], where
        assert csp["base-uri"] == ["'none'"], where
        assert csp["img-src"] == ["'self'", "data:"], where  # no tile host configured
        assert csp["connect-src"] == ["'self'", "ws:", "wss:"], where
        # Plain http: browsers must not be told to insist on https.
        assert "Strict-Transport-Security" not in headers, where


def test_the_map_tile_host_is_allowed_for_images() -> None:
    assert tile_source("https://{s}.tile.openstreetmap.org/{z}/{x}/{y}.png") == (
        "https://*.tile.openstreetmap.org"
    )
    assert tile_source("https://cyberjapandata.gsi.go.jp/xyz/std/{z}/{x}/{y}.png") == (
        "https://cyberjapandata.gsi.go.jp"
    )
    assert tile_source(None) is None


def test_hsts_only_over_https_or_from_a_trusted_proxy(tmp_path: Path) -> None:
    live = start_server(make_settings(tmp_path))
    try:
        https = {"X-Forwarded-Proto": "https"}
        with live.client() as client:
            assert "Strict-Transport-Security" not in client.get("/").headers
            # Anyone can write the header; it counts only from a proxy we trust.
            assert "Strict-Transport-Security" not in client.get("/", headers=https).headers
            live.runtime.settings.trusted_proxies = ["127.0.0.1"]
            assert "Strict-Transport-Security" not in client.get("/").headers
            hsts = client.get("/", headers=https).headers["Strict-Transport-Security"]
            api = client.get("/healthz", headers=https).headers["Strict-Transport-Security"]
        assert hsts == api == "max-age=63072000; includeSubDomains"
    finally:
        live.stop()


def test_no_cors_by_default(sqlite_server: LiveServer) -> None:
    with sqlite_server.client() as client:
        simple = client.get("/api/v1/web/config", headers={"Origin": ORIGIN})
        preflight = client.options(
            "/api/v1/subscriptions",
            headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"},
        )
    assert simple.status_code == 200
    assert "Access-Control-Allow-Origin" not in simple.headers
    assert "Access-Control-Allow-Origin" not in preflight.headers


def test_cors_for_exactly_the_configured_origins(tmp_path: Path) -> None:
    live = start_server(make_settings(tmp_path, cors_origins=[ORIGIN]))
    try:
        with live.client() as client:
            allowed = client.options(
                "/api/v1/subscriptions",
                headers={
                    "Origin": ORIGIN,
                    "Access-Control-Request-Method": "POST",
                    "Access-Control-Request-Headers": "content-type",
                },
            )
            simple = client.get("/api/v1/web/config", headers={"Origin": ORIGIN})
            other = client.get("/api/v1/web/config", headers={"Origin": "https://evil.example"})
        assert allowed.status_code == 200
        assert allowed.headers["Access-Control-Allow-Origin"] == ORIGIN
        assert "POST" in allowed.headers["Access-Control-Allow-Methods"]
        assert simple.headers["Access-Control-Allow-Origin"] == ORIGIN
        assert "Access-Control-Allow-Origin" not in other.headers
        # The security headers are still there on a CORS answer.
        assert simple.headers["X-Frame-Options"] == "DENY"
    finally:
        live.stop()


def test_secret_settings_come_from_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "WEBPUSH_VAPID_PRIVATE_KEY"):
        monkeypatch.delenv(f"KIZUNA_{name}", raising=False)
    (tmp_path / "key").write_text("key-from-a-file-0123456789\n")
    (tmp_path / "db").write_text("postgresql+psycopg://kizuna:pw-in-file@db:5432/kizuna\n")
    (tmp_path / "vapid").write_text(
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
    )
    monkeypatch.setenv("KIZUNA_SECRET_KEY_FILE", str(tmp_path / "key"))
    monkeypatch.setenv("KIZUNA_DATABASE_URL_FILE", str(tmp_path / "db"))
    monkeypatch.setenv("KIZUNA_WEBPUSH_VAPID_PRIVATE_KEY_FILE", str(tmp_path / "vapid"))
    settings = Settings()
    assert settings.secret_key == "key-from-a-file-0123456789"
    assert settings.database_url == "postgresql+psycopg://kizuna:pw-in-file@db:5432/kizuna"
    vapid = settings.webpush_vapid_private_key
    assert vapid is not None and vapid.get_secret_value().endswith("END PRIVATE KEY-----")
    # Nothing secret in the settings' repr, which ends up in tracebacks and debug logs.
    shown = repr(settings)
    assert "key-from-a-file" not in shown and "pw-in-file" not in shown and "AAAA" not in shown
    assert settings.database_url_for_display == "postgresql+psycopg://kizuna:***@db:5432/kizuna"

    monkeypatch.setenv("KIZUNA_SECRET_KEY", "also-in-the-environment")
    with pytest.raises(SettingsError, match="KIZUNA_SECRET_KEY or KIZUNA_SECRET_KEY_FILE"):
        Settings()
    monkeypatch.delenv("KIZUNA_SECRET_KEY")
    monkeypatch.setenv("KIZUNA_SECRET_KEY_FILE", str(tmp_path / "missing"))
    with pytest.raises(SettingsError, match="KIZUNA_SECRET_KEY_FILE: cannot read"):
        Settings()


def _kizuna_env(tmp_path: Path, db_url: str, key: str) -> dict[str, str]:
    (tmp_path / "db_url").write_text(db_url)
    (tmp_path / "secret_key").write_text(key)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIZUNA_")}
    env.update(
        KIZUNA_DATA_DIR=str(tmp_path / "var"),
        KIZUNA_DATABASE_URL_FILE=str(tmp_path / "db_url"),
        KIZUNA_SECRET_KEY_FILE=str(tmp_path / "secret_key"),
        KIZUNA_LOG_LEVEL="DEBUG",
        KIZUNA_LOG_FORMAT="text",
    )
    return env


def test_serve_reads_secrets_from_files_and_logs_none_of_them(
    tmp_path: Path, postgres_url: str
) -> None:
    password = "db-pass-Xq7Zr9"  # PostgreSQL here trusts local connections: any password works
    db_url = postgres_url.replace("postgres@", f"postgres:{password}@", 1)
    assert password in db_url
    key = "signing-key-from-file-Lm3Np8Qr5St2Uv9Wx4Yz"
    env = _kizuna_env(tmp_path, db_url, key)
    subprocess.run(
        [str(KIZUNA), "db", "upgrade"], env=env, cwd=ROOT, check=True, capture_output=True
    )
    subprocess.run(
        [str(KIZUNA), "users", "create", "officer-x", "--role", "admin", "--password", PASSWORD],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=120,
    )
    port = free_port()
    process = subprocess.Popen(
        [str(KIZUNA), "serve", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, "kizuna serve exited"
            try:
                if http.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "kizuna serve did not start"
            time.sleep(0.2)
        wrong = http.post(f"{url}/api/v1/auth/token", data={"username": "x", "password": "y"})
        assert wrong.status_code == 401
        login = http.post(
            f"{url}/api/v1/auth/token", data={"username": "officer-x", "password": PASSWORD}
        )
        assert login.status_code == 200, login.text
        # Signed with the key from the file.
        claims = jwt.decode(login.json()["access_token"], key, algorithms=["HS256"])
        assert claims["role"] == "admin"
    finally:
        process.send_signal(signal.SIGINT)
        try:
            output, _ = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
    text = output.decode("utf-8", "replace")
    assert "/healthz" in text, "the server's log was not captured"
    assert password not in text
    assert key not in text


def test_db_upgrade_does_not_print_the_database_password(tmp_path: Path, postgres_url: str) -> None:
    password = "db-pass-Kd2Hf6"
    db_url = postgres_url.replace("postgres@", f"postgres:{password}@", 1)
    env = _kizuna_env(tmp_path, db_url, "another-signing-key-0123456789abcdef")
    done = subprocess.run(
        [str(KIZUNA), "db", "upgrade"], env=env, cwd=ROOT, capture_output=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert password not in (done.stdout + done.stderr).decode("utf-8", "replace")
