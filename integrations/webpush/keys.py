"""The VAPID key pair (RFC 8292): made once into the data dir, kept, never logged."""

from __future__ import annotations

import base64
import logging
import os
import secrets
import stat
import threading
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

log = logging.getLogger(__name__)

KEY_FILE = "webpush_vapid_key.pem"
_B64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def b64url(data: bytes) -> str:
    """base64url without padding, as Web Push writes keys."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """The bytes of base64url text, padded or not; ValueError when it is not base64url."""
    if not text or any(c not in _B64URL for c in text.rstrip("=")):
        raise ValueError("not base64url")
    stripped = text.rstrip("=")
    if len(stripped) % 4 == 1:
        raise ValueError("not base64url (impossible length)")
    return base64.urlsafe_b64decode(stripped + "=" * (-len(stripped) % 4))


@dataclass(frozen=True)
class VapidKeys:
    """The application server's P-256 key pair; the private half never appears in a repr."""

    private_key: ec.EllipticCurvePrivateKey = field(repr=False)
    path: Path | None  # None when the key came from configuration rather than a file

    @property
    def public_key(self) -> str:
        """The application server key for `PushManager.subscribe`: the uncompressed point."""
        point = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return b64url(point)


def key_path(data_dir: Path) -> Path:
    """Where the private key lives."""
    return data_dir / KEY_FILE


def load_or_create(data_dir: Path) -> tuple[VapidKeys, bool]:
    """The stored key pair, made now if there is none; returns (keys, created).

    Every subscription a browser makes is bound to this public key, so it must never change:
    two processes starting together agree on one key (the file appears atomically, and only
    the first link wins).
    """
    path = key_path(data_dir)
    if path.exists():
        return VapidKeys(_read(path), path), False
    data_dir.mkdir(parents=True, exist_ok=True)
    private_key = ec.generate_private_key(ec.SECP256R1())
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    temporary = data_dir / f".{KEY_FILE}.{secrets.token_hex(8)}"
    # Created 0600 from the first byte: never readable by others, not even for an instant.
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(pem)
        try:
            os.link(temporary, path)
        except FileExistsError:
            return VapidKeys(_read(path), path), False
    finally:
        temporary.unlink(missing_ok=True)
    log.info("created the Web Push VAPID key pair in %s", path)
    return VapidKeys(private_key, path), True


def _read(path: Path) -> ec.EllipticCurvePrivateKey:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        # Someone loosened it (a copy, a restore): the key signs as us, so tighten it again.
        log.warning("%s was readable by others (mode %o); setting 0600", path, mode)
        path.chmod(0o600)
    return _p256(path.read_bytes(), str(path))


def _p256(pem: bytes, source: str) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ValueError(f"{source} does not hold a P-256 private key")
    return key


class KeyStore:
    """Loads the key pair on first use (not at startup: most commands never need it).

    `private_key_pem`, when given, is used instead of the data dir's file: processes on
    several machines (API replicas, workers) must all sign with the one key browsers know.
    """

    def __init__(self, data_dir: Path, private_key_pem: str | None = None) -> None:
        self._data_dir = data_dir
        self._pem = private_key_pem
        self._keys: VapidKeys | None = None
        self._lock = threading.Lock()

    def get(self) -> VapidKeys:
        """The key pair: the configured one, or the data dir's (created if missing)."""
        with self._lock:
            if self._keys is None:
                if self._pem:
                    key = _p256(self._pem.encode(), "the configured VAPID private key")
                    self._keys = VapidKeys(key, None)
                else:
                    self._keys, _ = load_or_create(self._data_dir)
            return self._keys
