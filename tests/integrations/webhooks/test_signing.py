"""Receivers can tell a genuine, fresh Kizuna delivery from a forged or replayed one."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from typing import Any

from integrations.webhooks import verify_signature
from integrations.webhooks.delivery import signed_headers

SECRET = "media-shared-secret-0123456789"
BODY = b'{"event":"alert.issued","msg_type":"Alert"}'
NOW = 1_800_000_000


def test_the_signature_is_the_documented_hmac_of_timestamp_dot_body() -> None:
    headers = signed_headers(SECRET, BODY, "application/json", "d-1", timestamp=NOW)
    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert headers["X-Kizuna-Signature"] == f"sha256={expected}"
    assert headers["X-Kizuna-Timestamp"] == str(NOW)
    assert headers["X-Kizuna-Event"] == "alert.issued"
    assert headers["X-Kizuna-Delivery"] == "d-1"


def test_a_genuine_fresh_delivery_verifies() -> None:
    headers = signed_headers(SECRET, BODY, "application/json", "d-1", timestamp=NOW)
    assert verify_signature(
        SECRET, headers["X-Kizuna-Timestamp"], BODY, headers["X-Kizuna-Signature"], now=NOW + 299
    )


def test_a_forged_signature_is_rejected() -> None:
    forged = hmac.new(b"guessed-secret-000000", f"{NOW}.".encode() + BODY, hashlib.sha256)
    assert not verify_signature(SECRET, NOW, BODY, f"sha256={forged.hexdigest()}", now=NOW)


def test_a_changed_body_or_timestamp_breaks_the_signature() -> None:
    header = signed_headers(SECRET, BODY, "application/json", "d-1", timestamp=NOW)[
        "X-Kizuna-Signature"
    ]
    assert not verify_signature(SECRET, NOW, BODY.replace(b"Alert", b"Cancel"), header, now=NOW)
    assert not verify_signature(SECRET, NOW + 1, BODY, header, now=NOW)


def test_a_timestamp_outside_the_replay_window_is_rejected() -> None:
    header = signed_headers(SECRET, BODY, "application/json", "d-1", timestamp=NOW)[
        "X-Kizuna-Signature"
    ]
    assert not verify_signature(SECRET, NOW, BODY, header, now=NOW + 301)
    assert not verify_signature(SECRET, NOW, BODY, header, now=NOW - 301)
    assert not verify_signature(SECRET, NOW, BODY, header, tolerance_s=10, now=NOW + 11)


def test_malformed_headers_are_rejected_without_raising() -> None:
    header = signed_headers(SECRET, BODY, "application/json", "d-1", timestamp=NOW)[
        "X-Kizuna-Signature"
    ]
    assert not verify_signature(SECRET, "yesterday", BODY, header, now=NOW)
    assert not verify_signature(SECRET, "", BODY, header, now=NOW)
    assert not verify_signature(SECRET, NOW, BODY, "", now=NOW)
    assert not verify_signature(SECRET, NOW, BODY, header.removeprefix("sha256="), now=NOW)
    assert not verify_signature(SECRET, NOW, BODY, "sha256=ü", now=NOW)


def test_the_verification_example_in_the_docs_agrees_with_our_signatures() -> None:
    docs = Path(__file__).parents[3] / "docs" / "integrations" / "webhooks.md"
    example = docs.read_text().split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict[str, Any] = {}
    exec(compile(example, str(docs), "exec"), namespace)
    documented = namespace["verify_signature"]
    headers = signed_headers(SECRET, BODY, "application/json", "d-1", timestamp=NOW)
    signature = headers["X-Kizuna-Signature"]
    assert documented(SECRET, headers["X-Kizuna-Timestamp"], BODY, signature, now=NOW + 5)
    assert not documented(SECRET, NOW, BODY + b" ", signature, now=NOW)
    assert not documented(SECRET, NOW, BODY, signature, now=NOW + 301)
