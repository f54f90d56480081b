"""HTTP routes of the lalert integration."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["lalert"])
