"""HTTP routes of the webhooks integration."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["webhooks"])
