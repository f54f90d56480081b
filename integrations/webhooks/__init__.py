"""Webhooks: every alert POSTed, signed (HMAC-SHA256), to the endpoints media users register.

Other packages (and receivers) use only what is named here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from integrations.webhooks.signing import verify_signature

if TYPE_CHECKING:
    from kizuna.runtime import Runtime

__all__ = ["register", "verify_signature"]


def register(runtime: Runtime) -> None:
    """Register the delivery tasks and the `alert.issued` handler on a runtime."""
    from integrations.webhooks import delivery

    delivery.register(runtime)
