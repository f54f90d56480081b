"""HTTP routes of the jma integration."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["jma"])
