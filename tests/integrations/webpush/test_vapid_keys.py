"""The VAPID key pair is made once, kept private, and its public half printed for browsers."""

from __future__ import annotations

import logging
import stat
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from typer.testing import CliRunner

from integrations.webpush.keys import KeyStore, b64url_decode, key_path, load_or_create
from kizuna.cli import app


def private_forms(path: Path) -> list[str]:
    """Every way the private key could leak: its PEM body and its scalar in hex and decimal."""
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    scalar = key.private_numbers().private_value
    body = "".join(path.read_text().splitlines()[1:-1])
    return [body[:40], body[-40:], f"{scalar:x}", str(scalar)]


def test_the_key_pair_is_created_once_readable_only_by_its_owner_and_kept(
    tmp_path: Path,
) -> None:
    first, created = load_or_create(tmp_path)
    assert created
    assert stat.S_IMODE(key_path(tmp_path).stat().st_mode) == 0o600
    again, created_again = load_or_create(tmp_path)
    assert not created_again
    assert again.public_key == first.public_key
    point = b64url_decode(first.public_key)
    assert len(point) == 65 and point[0] == 4  # uncompressed P-256 point
    assert "private_key" not in repr(first)


def test_processes_starting_together_agree_on_one_key(tmp_path: Path) -> None:
    keys: list[str] = []
    barrier = threading.Barrier(8)

    def start() -> None:
        barrier.wait()
        keys.append(load_or_create(tmp_path)[0].public_key)

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(keys)) == 1
    assert [p.name for p in tmp_path.iterdir()] == [key_path(tmp_path).name]


def test_a_key_file_left_readable_by_others_is_made_private_again(tmp_path: Path) -> None:
    load_or_create(tmp_path)
    key_path(tmp_path).chmod(0o644)
    load_or_create(tmp_path)
    assert stat.S_IMODE(key_path(tmp_path).stat().st_mode) == 0o600


def test_kizuna_webpush_keys_prints_the_public_key_and_never_the_private_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("KIZUNA_DATA_DIR", str(tmp_path))
    caplog.set_level(logging.DEBUG)
    runner = CliRunner()
    created = runner.invoke(app, ["webpush", "keys"])
    assert created.exit_code == 0, created.output
    printed = runner.invoke(app, ["webpush", "keys"])
    assert printed.exit_code == 0, printed.output

    public_key = load_or_create(tmp_path)[0].public_key
    assert created.stdout.strip() == printed.stdout.strip() == public_key
    everything = created.output + printed.output + caplog.text
    for secret in private_forms(key_path(tmp_path)):
        assert secret not in everything


def test_a_configured_key_is_used_instead_of_a_file(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    point = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    assert b64url_decode(KeyStore(tmp_path, pem).get().public_key) == point
    assert list(tmp_path.iterdir()) == []
