"""One POST to a receiver is judged right: success, worth retrying (and when), or final."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from integrations.webhooks.delivery import RetryPolicy, post, signed_headers
from kizuna.http import parse_retry_after
from tests.integrations.webhooks.receiver import Receiver, Script
from tests.support import free_port

SECRET = "receiver-secret-0123456789"
BODY = b'{"event":"alert.issued"}'


def send(receiver: Receiver) -> tuple[str, int | None, str | None, float | None]:
    headers = signed_headers(SECRET, BODY, "application/json", "delivery-1")
    outcome = post(receiver.url, BODY, headers, timeout_s=5)
    return outcome.result, outcome.status_code, outcome.error, outcome.retry_after_s


def test_a_2xx_answer_is_a_success_and_the_receiver_verified_it() -> None:
    with Receiver(SECRET, Script([204])) as receiver:
        assert send(receiver)[:2] == ("success", 204)
    assert receiver.received[0].verified
    assert receiver.received[0].body == BODY


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_retried(status: int) -> None:
    with Receiver(SECRET, Script([status])) as receiver:
        result, code, error, _ = send(receiver)
    assert (result, code) == ("retry", status)
    assert error is not None and error.startswith(f"HTTP {status}")


def test_429_is_retried_after_the_time_the_receiver_asks_for() -> None:
    with Receiver(SECRET, Script([429], {"Retry-After": "7"})) as receiver:
        assert send(receiver) == ("retry", 429, "HTTP 429: ok", 7.0)


@pytest.mark.parametrize("status", [400, 401, 404, 410, 422])
def test_other_client_errors_are_final(status: int) -> None:
    with Receiver(SECRET, Script([status])) as receiver:
        assert send(receiver)[:2] == ("final", status)


def test_a_bad_signature_is_refused_by_the_receiver_and_not_retried() -> None:
    with Receiver("a-different-secret-000000") as receiver:
        assert send(receiver)[:2] == ("final", 401)
    assert not receiver.received[0].verified


def test_redirects_are_not_followed() -> None:
    with Receiver(SECRET, Script([302], {"Location": "http://10.0.0.1/"})) as receiver:
        result, code, error, _ = send(receiver)
    assert (result, code) == ("final", 302)
    assert error is not None and "not followed" in error
    assert receiver.count() == 1


def test_a_receiver_that_is_down_is_retried() -> None:
    outcome = post(f"http://127.0.0.1:{free_port()}/", BODY, {}, timeout_s=2)
    assert outcome.result == "retry"
    assert outcome.status_code is None
    assert outcome.error is not None and "ConnectError" in outcome.error


def test_retry_after_is_read_as_seconds_or_as_an_http_date() -> None:
    now = datetime(2030, 1, 1, 0, 0, 0, tzinfo=UTC)
    assert parse_retry_after("120", now) == 120
    assert parse_retry_after("Tue, 01 Jan 2030 00:01:30 GMT", now) == 90
    assert parse_retry_after("Mon, 31 Dec 2029 00:00:00 GMT", now) == 0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


def test_backoff_grows_exponentially_with_jitter_up_to_its_cap() -> None:
    policy = RetryPolicy(base_s=2, max_delay_s=300)
    for attempt, ceiling in [(1, 2), (2, 4), (3, 8), (8, 256), (9, 300), (20, 300)]:
        waits = {policy.backoff(attempt) for _ in range(50)}
        assert all(ceiling / 2 <= wait <= ceiling for wait in waits)
        assert len(waits) > 1  # jittered, not one fixed wait
