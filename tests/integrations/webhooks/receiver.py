"""A real webhook receiver for tests: a threaded HTTP server that verifies every signature."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from integrations.webhooks import verify_signature


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    verified: bool
    answered: int


@dataclass
class Script:
    """What the receiver answers: `statuses` in turn, then 200; extra headers per answer."""

    statuses: list[int] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)


class Receiver:
    """Listens on 127.0.0.1; answers 401 to a bad signature, as a careful integrator would."""

    def __init__(self, secret: str | None = None, script: Script | None = None) -> None:
        self.secret = secret
        self.script = script or Script()
        self.received: list[Received] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver._handle(self, body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hooks/kizuna"

    def _handle(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        headers = {name.lower(): value for name, value in handler.headers.items()}
        verified = self.secret is not None and verify_signature(
            self.secret,
            headers.get("x-kizuna-timestamp", ""),
            body,
            headers.get("x-kizuna-signature", ""),
        )
        with self._lock:
            status = self.script.statuses.pop(0) if self.script.statuses else 200
            if not verified:
                status = 401
            self.received.append(Received(headers, body, verified, status))
        handler.send_response(status)
        for name, value in self.script.headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", "2")
        handler.end_headers()
        handler.wfile.write(b"ok")

    def count(self) -> int:
        with self._lock:
            return len(self.received)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()
