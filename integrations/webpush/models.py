"""Tables of the webpush integration."""

from __future__ import annotations
