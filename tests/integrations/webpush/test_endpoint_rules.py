"""Which push endpoints the server agrees to call."""

from __future__ import annotations

import pytest

from integrations.webpush.service import check_endpoint
from kizuna.errors import InvalidInput
from kizuna.settings import Settings

DEVELOPMENT = Settings()
TESTS = Settings(webpush_allow_loopback_http=True)
PRODUCTION = Settings(environment="production")


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://fcm.googleapis.com/fcm/send/abc:def",
        "https://updates.push.services.mozilla.com/wpush/v2/gAAAA",
        "https://web.push.apple.com/QGz8",
    ],
)
def test_browser_push_services_are_accepted_even_in_production(endpoint: str) -> None:
    assert check_endpoint(PRODUCTION, endpoint) == endpoint


def test_plain_http_is_refused_unless_loopback_is_allowed_for_tests() -> None:
    for endpoint in ("http://127.0.0.1:8123/push/a", "http://push.example.com/a"):
        with pytest.raises(InvalidInput) as refused:
            check_endpoint(DEVELOPMENT, endpoint)
        assert refused.value.field == "endpoint"
    assert check_endpoint(TESTS, "http://127.0.0.1:8123/push/a")
    with pytest.raises(InvalidInput):
        check_endpoint(TESTS, "http://push.example.com/a")  # loopback only


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://10.0.0.5/push",
        "https://192.168.1.1/push",
        "https://169.254.169.254/latest",
        "https://127.0.0.1/push",
        "https://localhost/push",
        "https://[::1]/push",
    ],
)
def test_production_refuses_endpoints_inside_private_networks(endpoint: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_endpoint(PRODUCTION, endpoint)
    assert refused.value.field == "endpoint"
