"""A push service for tests: checks VAPID like a real one, decrypts like the browser would."""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

MAX_BODY = 4096  # RFC 8291 §4: a push service may refuse anything larger


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Browser:
    """One resident's browser: the key pair and auth secret `PushManager.subscribe` makes."""

    name: str
    endpoint: str
    private_key: ec.EllipticCurvePrivateKey = field(repr=False)
    auth: bytes = field(repr=False)

    def subscription(self) -> dict[str, Any]:
        """What `PushSubscription.toJSON()` gives the page."""
        public = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {
            "endpoint": self.endpoint,
            "expirationTime": None,
            "keys": {"p256dh": b64url(public), "auth": b64url(self.auth)},
        }


@dataclass
class PushRequest:
    """One POST the push service received, decrypted, and what it answered."""

    browser: str
    status: int
    at: float
    message: dict[str, Any] | None
    urgency: str | None
    ttl: str | None
    topic: str | None
    problem: str | None = None


class PushReceiver:
    """Plays the push service on 127.0.0.1: answers 201 unless told otherwise.

    Like a real one it refuses a request whose VAPID JWT does not verify with the key the
    browser subscribed with (`application_server_key`), whose audience is not its origin,
    which has expired or names no subject; and it decrypts every payload (aes128gcm) with
    the browser's private key, as the phone would.
    """

    def __init__(self, application_server_key: str) -> None:
        self.application_server_key = application_server_key
        self.browsers: dict[str, Browser] = {}
        self.requests: list[PushRequest] = []
        self._answers: deque[tuple[int, str | None]] = deque()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> PushReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def browser(self, name: str) -> Browser:
        """A new browser subscribed at this push service."""
        browser = Browser(
            name=name,
            endpoint=f"{self.origin}/push/{name}",
            private_key=ec.generate_private_key(ec.SECP256R1()),
            auth=os.urandom(16),
        )
        self.browsers[name] = browser
        return browser

    def answer(self, status: int, times: int = 1, retry_after: str | None = None) -> None:
        """Answer the next `times` requests with `status` (then 201 again)."""
        with self._lock:
            self._answers.extend([(status, retry_after)] * times)

    def delivered(self, browser: str | None = None) -> list[PushRequest]:
        """Requests accepted (2xx), i.e. messages the phone shows."""
        with self._lock:
            return [
                r
                for r in self.requests
                if 200 <= r.status < 300 and (browser is None or r.browser == browser)
            ]

    def problems(self) -> list[str]:
        with self._lock:
            return [r.problem for r in self.requests if r.problem]

    # -- the push service -------------------------------------------------------------------

    def _verify_vapid(self, authorization: str) -> str | None:
        """Why the VAPID header is not acceptable (RFC 8292), or None when it is."""
        scheme, _, params = authorization.partition(" ")
        if scheme.lower() != "vapid":
            return f"Authorization scheme {scheme!r} is not vapid"
        values = dict(
            part.strip().split("=", 1) for part in params.split(",") if "=" in part.strip()
        )
        token, key = values.get("t"), values.get("k")
        if not token or not key:
            return "vapid needs t= and k="
        if key != self.application_server_key:
            return "k is not the key the browser subscribed with"
        try:
            header_b64, claims_b64, signature_b64 = token.split(".")
            header = json.loads(unb64url(header_b64))
            claims = json.loads(unb64url(claims_b64))
            signature = unb64url(signature_b64)
        except ValueError as exc:
            return f"malformed JWT: {exc}"
        if header.get("alg") != "ES256" or len(signature) != 64:
            return "JWT is not ES256"
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(key))
        der = utils.encode_dss_signature(
            int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        )
        try:
            public.verify(der, f"{header_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            return "JWT signature does not verify with k"
        now = time.time()
        if claims.get("aud") != self.origin:
            return f"aud {claims.get('aud')!r} is not {self.origin}"
        if not isinstance(claims.get("exp"), int) or not now < claims["exp"] <= now + 86400:
            return f"exp {claims.get('exp')!r} is not within the next 24 hours"
        if not claims.get("sub"):
            return "sub missing"
        return None

    def _handle(self, path: str, headers: Any, body: bytes) -> tuple[int, dict[str, str]]:
        name = path.removeprefix("/push/")
        browser = self.browsers.get(name)
        if browser is None:
            return 404, {}
        problem = self._verify_vapid(headers.get("Authorization", ""))
        status = 401 if problem else 201
        message = None
        if not problem and headers.get("Content-Encoding") != "aes128gcm":
            problem, status = "Content-Encoding is not aes128gcm", 415
        if not problem and headers.get("TTL") is None:
            problem, status = "TTL missing", 400
        if not problem and len(body) > MAX_BODY:
            problem, status = f"body of {len(body)} bytes", 413
        if not problem:
            try:
                plain = http_ece.decrypt(
                    body,
                    private_key=browser.private_key,
                    auth_secret=browser.auth,
                    version="aes128gcm",
                )
                message = json.loads(plain)
            except Exception as exc:
                problem, status = f"cannot decrypt: {exc!r}", 400
        answer_headers: dict[str, str] = {}
        with self._lock:
            if not problem and self._answers:
                status, retry_after = self._answers.popleft()
                if retry_after is not None:
                    answer_headers["Retry-After"] = retry_after
            self.requests.append(
                PushRequest(
                    browser=name,
                    status=status,
                    at=time.monotonic(),
                    message=message,
                    urgency=headers.get("Urgency"),
                    ttl=headers.get("TTL"),
                    topic=headers.get("Topic"),
                    problem=problem,
                )
            )
        return status, answer_headers

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                status, headers = receiver._handle(self.path, self.headers, body)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
