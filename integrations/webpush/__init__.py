"""Web Push to residents' phones (RFC 8030, 8291, 8292): the `webpush` delivery channel."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kizuna.runtime import Runtime


def register(runtime: Runtime) -> None:
    """Offer the `webpush` channel to fan-out; register its retry task and `webpush.notify`."""
    from integrations.webpush.delivery import CHANNEL, RETRY, WebPushNotifier, retry
    from integrations.webpush.keys import KeyStore
    from integrations.webpush.notify import (
        BACKOFF_MAX_S,
        BACKOFF_S,
        MAX_RETRIES,
        NOTIFY,
        notify,
    )

    configured = runtime.settings.webpush_vapid_private_key
    keys = KeyStore(
        runtime.settings.data_dir, configured.get_secret_value() if configured else None
    )
    notifier = WebPushNotifier(runtime.settings, keys)
    runtime.notifiers[CHANNEL] = notifier
    runtime.cache["webpush.keys"] = notifier.keys
    runtime.registry.register(RETRY, retry)
    runtime.registry.register(
        NOTIFY, notify, max_retries=MAX_RETRIES, backoff_s=BACKOFF_S, backoff_max_s=BACKOFF_MAX_S
    )
