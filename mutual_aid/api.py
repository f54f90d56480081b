"""HTTP and WebSocket routes of the mutual_aid capability."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["mutual_aid"])
ws_router = APIRouter()
