"""Where webhooks may point: URL shape always, and no private networks in production."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

from kizuna.errors import InvalidInput

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]
MAX_URL_LENGTH = 2000


def resolve_host(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (IPv4 and IPv6)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def non_public_reason(address: IPAddress) -> str | None:
    """Why an address is not on the public Internet (loopback, private, ...), or None."""
    # An IPv4 address wrapped in IPv6 (::ffff:10.0.0.1) reaches the IPv4 host: judge that one.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    checks = (
        ("loopback", address.is_loopback),
        ("unspecified", address.is_unspecified),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
        # Shared (100.64.0.0/10, carrier NAT), documentation and similar ranges.
        ("not globally routable", not address.is_global),
    )
    for reason, applies in checks:
        if applies:
            return reason
    return None


def check_public_host(host: str, port: int, resolve: Resolver = resolve_host) -> None:
    """Refuse a host unless every address it resolves to is public (InvalidInput on `url`).

    Every address counts, not just the first: a name with one public and one private address
    could be steered to the private one.
    """
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal]
    else:
        try:
            addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in resolve(host, port)]
        except (OSError, UnicodeError, ValueError) as exc:
            raise InvalidInput(f"cannot resolve host {host!r}: {exc}", field="url") from None
        if not addresses:
            raise InvalidInput(f"host {host!r} has no address", field="url")
    for address in addresses:
        reason = non_public_reason(address)
        if reason is not None:
            raise InvalidInput(
                f"webhook URLs may not point at {reason} addresses ({host} → {address}) "
                "in production",
                field="url",
            )


def check_webhook_url(url: str, production: bool, resolve: Resolver = resolve_host) -> str:
    """A webhook URL after checking its shape; in production its host must be public."""
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise InvalidInput(f"url is longer than {MAX_URL_LENGTH} characters", field="url")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidInput(f"url is not a valid URL: {exc}", field="url") from None
    if parts.scheme not in ("http", "https"):
        raise InvalidInput("url must start with https:// or http://", field="url")
    host = parts.hostname
    if not host:
        raise InvalidInput("url has no host", field="url")
    if parts.username is not None or parts.password is not None:
        # Listings show the URL; the signature, not a password in the URL, authenticates us.
        raise InvalidInput("url must not contain a user name or password", field="url")
    if parts.fragment:
        raise InvalidInput("url must not contain a #fragment", field="url")
    if production:
        check_public_host(host, port or (443 if parts.scheme == "https" else 80), resolve)
    return url
