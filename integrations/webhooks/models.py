"""Tables of the webhooks integration."""

from __future__ import annotations
