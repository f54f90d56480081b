"""What a push message carries: a payload that fits, and Urgency, TTL and Topic headers."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import http_ece
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from alerts.models import AlertVersion
from integrations.webpush.delivery import Target, WebPushNotifier
from integrations.webpush.keys import KeyStore
from integrations.webpush.message import (
    MAX_PLAINTEXT_BYTES,
    MAX_TTL_S,
    PushMessage,
    build_message,
    fit_payload,
    topic_for,
    ttl_for,
    urgency_for,
)
from kizuna.http import parse_retry_after
from kizuna.settings import Settings
from tests.integrations.webpush.receiver import Browser

NOW = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)


def make_version(
    description: str = "川が氾濫する恐れ",
    instruction: str = "直ちに避難してください",
    ring_points: int = 5,
    evacuation_level: int | None = 4,
    expires: datetime = NOW + timedelta(hours=6),
) -> AlertVersion:
    """An alert version as fan-out reads it, in Japanese and English."""
    ring = [[139.0 + i * 1e-5, 35.0 + (i % 2) * 1e-5] for i in range(ring_points)]
    return AlertVersion(
        id="v1",
        alert_id="0b7c6f8e-2f1d-4f7a-9a51-3c2d1e0f9a8b",
        version=1,
        identifier="urn:kizuna:999989:a:1",
        sender="999989@kizuna.local",
        msg_type="Alert",
        status="Actual",
        sent=NOW,
        expires=expires,
        references=[],
        content={
            "event": "洪水",
            "category": "Met",
            "severity": "Severe",
            "urgency": "Immediate",
            "certainty": "Observed",
            "evacuation_level": evacuation_level,
            "info": [
                {
                    "language": "ja",
                    "headline": "避難指示",
                    "description": description,
                    "instruction": instruction,
                },
                {"language": "en", "headline": "Evacuation order", "description": "River"},
            ],
        },
        area_geometry={"type": "Polygon", "coordinates": [[*ring, ring[0]]]},
    )


def test_a_short_alert_goes_whole_in_the_residents_language() -> None:
    message = build_message(make_version(), ["en"], NOW)
    content = json.loads(message.payload)
    assert content["headline"] == "Evacuation order"
    assert "area" in content and "description" in content
    assert "truncated" not in content


def test_a_long_alert_drops_its_area_and_description_first_to_fit_4_kb() -> None:
    version = make_version(description="堤防" * 3000, ring_points=400)
    content = json.loads(build_message(version, ["ja"], NOW).payload)
    assert "area" not in content and "description" not in content
    assert content["truncated"] is True
    assert content["headline"] == "避難指示"
    assert content["instruction"] == "直ちに避難してください"


def test_an_overlong_instruction_is_shortened_but_the_headline_kept() -> None:
    version = make_version(instruction="高台へ避難" * 800)
    payload = build_message(version, ["ja"], NOW).payload
    content = json.loads(payload)
    assert len(payload) <= MAX_PLAINTEXT_BYTES
    assert content["headline"] == "避難指示"
    assert content["instruction"].startswith("高台へ避難") and content["instruction"].endswith("…")


@pytest.mark.parametrize("filler", ["a", "避", '"', "\n"])
def test_a_payload_made_to_fit_is_never_over_the_limit_nor_far_under_it(filler: str) -> None:
    message: dict[str, Any] = {"headline": "H", "instruction": filler * 5000, "area": [1] * 900}
    payload = fit_payload(message)
    assert MAX_PLAINTEXT_BYTES - 64 <= len(payload) <= MAX_PLAINTEXT_BYTES


def test_the_largest_payload_encrypts_to_exactly_the_4096_bytes_a_push_service_takes(
    tmp_path: Path,
) -> None:
    browser = Browser(
        "x",
        "https://push.example.com/x",
        ec.generate_private_key(ec.SECP256R1()),
        b"0123456789abcdef",
    )
    keys = browser.subscription()["keys"]
    notifier = WebPushNotifier(Settings(data_dir=tmp_path), KeyStore(tmp_path))

    def encrypt(payload: bytes) -> tuple[bytes, dict[str, str]]:
        message = PushMessage(payload, "high", 60, topic_for("a"))
        target = Target("s", browser.endpoint, keys["p256dh"], keys["auth"], 1, message)
        return notifier.request(target)

    largest = b"x" * MAX_PLAINTEXT_BYTES
    body, headers = encrypt(largest)
    assert len(body) == 4096
    assert len(encrypt(largest + b"x")[0]) == 4097  # the limit is tight
    plain = http_ece.decrypt(
        body, private_key=browser.private_key, auth_secret=browser.auth, version="aes128gcm"
    )
    assert plain == largest
    assert headers["Content-Encoding"] == "aes128gcm"
    assert headers["TTL"] == "60" and headers["Urgency"] == "high"
    assert re.fullmatch(r"vapid t=[\w-]+\.[\w-]+\.[\w-]+, k=[\w-]{87}", headers["Authorization"])


@pytest.mark.parametrize(
    ("level", "urgency"), [(None, "normal"), (1, "normal"), (3, "normal"), (4, "high"), (5, "high")]
)
def test_urgency_is_high_for_evacuation_levels_4_and_5_only(
    level: int | None, urgency: str
) -> None:
    assert urgency_for(level) == urgency
    assert build_message(make_version(evacuation_level=level), ["ja"], NOW).urgency == urgency


def test_ttl_runs_until_the_alert_expires_and_never_beyond_four_weeks() -> None:
    assert ttl_for(NOW + timedelta(hours=6), NOW) == 6 * 3600
    assert ttl_for(NOW + timedelta(days=90), NOW) == MAX_TTL_S == 28 * 24 * 3600
    assert ttl_for(NOW - timedelta(seconds=5), NOW) == 0


def test_every_version_of_an_alert_shares_one_short_url_safe_topic() -> None:
    topic = topic_for("0b7c6f8e-2f1d-4f7a-9a51-3c2d1e0f9a8b")
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,32}", topic)
    assert topic == topic_for("0b7c6f8e-2f1d-4f7a-9a51-3c2d1e0f9a8b")
    assert topic != topic_for("5d0c3f49-8a77-4f0e-8a57-5a4e0c4c9e21")


def test_retry_after_is_read_as_seconds_or_as_an_http_date() -> None:
    assert parse_retry_after("120") == 120
    assert parse_retry_after("Wed, 01 Jul 2026 12:00:30 GMT", now=NOW) == 30
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
