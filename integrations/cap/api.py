"""HTTP routes of the cap integration."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["cap"])
