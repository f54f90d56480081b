"""HTTP routes of the webpush integration."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["webpush"])
