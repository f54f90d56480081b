"""HTTP and WebSocket routes of the dispatch capability."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["dispatch"])
ws_router = APIRouter()
