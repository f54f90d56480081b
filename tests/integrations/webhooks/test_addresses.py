"""In production, webhooks may only point at the public Internet; in development, anywhere."""

from __future__ import annotations

import ipaddress

import pytest

from integrations.webhooks.addresses import Resolver, check_webhook_url, non_public_reason
from kizuna.errors import InvalidInput


def resolver(*addresses: str) -> Resolver:
    """A stand-in DNS: the tests send nothing anywhere, not even a lookup."""

    def resolve(host: str, port: int) -> list[str]:
        return list(addresses)

    return resolve


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("fd00::1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("::ffff:10.0.0.1", "private"),
        ("::ffff:127.0.0.1", "loopback"),
        ("100.64.0.1", "not globally routable"),
    ],
)
def test_non_public_addresses_are_named_for_what_they_are(address: str, reason: str) -> None:
    assert non_public_reason(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize("address", ["8.8.8.8", "203.0.114.1", "2001:4860:4860::8888"])
def test_public_addresses_pass(address: str) -> None:
    assert non_public_reason(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1/hook", "http://10.0.0.1/", "https://[::1]:8443/x", "http://0.0.0.0/"]
)
def test_production_refuses_private_address_literals(url: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_webhook_url(url, production=True, resolve=resolver("93.184.216.34"))
    assert refused.value.field == "url"
    assert "production" in refused.value.message


def test_production_refuses_a_name_when_any_of_its_addresses_is_private() -> None:
    with pytest.raises(InvalidInput) as refused:
        check_webhook_url(
            "https://news.example/hook", True, resolver("93.184.216.34", "192.168.0.10")
        )
    assert refused.value.field == "url"
    assert "192.168.0.10" in refused.value.message


def test_production_accepts_a_name_whose_addresses_are_all_public() -> None:
    url = "https://news.example/hook?x=1"
    assert check_webhook_url(url, True, resolver("93.184.216.34", "2606:2800::1")) == url


def test_production_refuses_a_name_that_does_not_resolve() -> None:
    def fails(host: str, port: int) -> list[str]:
        raise OSError("Name or service not known")

    with pytest.raises(InvalidInput, match="cannot resolve") as refused:
        check_webhook_url("https://nowhere.example/", True, fails)
    assert refused.value.field == "url"


def test_development_allows_loopback_and_private_addresses() -> None:
    for url in ("http://127.0.0.1:9000/hook", "http://10.0.0.1/", "http://localhost/x"):
        assert check_webhook_url(url, production=False, resolve=resolver("127.0.0.1")) == url


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://news.example/", "https:// or http://"),
        ("news.example/hook", "https:// or http://"),
        ("http:///path", "no host"),
        ("https://user:pw@news.example/", "user name or password"),
        ("https://news.example/#frag", "fragment"),
        ("https://news.example:99999/", "not a valid URL"),
        ("https://news.example/" + "x" * 2000, "longer than"),
    ],
)
def test_malformed_urls_are_refused_everywhere(url: str, problem: str) -> None:
    with pytest.raises(InvalidInput, match=problem) as refused:
        check_webhook_url(url, production=False, resolve=resolver("93.184.216.34"))
    assert refused.value.field == "url"
