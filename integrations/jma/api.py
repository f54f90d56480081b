"""HTTP routes of the jma integration: push one 防災情報XML telegram in."""

from __future__ import annotations

from typing import Annotated

from fastapi import Body, Depends
from fastapi.responses import JSONResponse

import kizuna.routing
from integrations.jma import service
from integrations.jma.schemas import IngestOut, SkippedOut
from kizuna.deps import DbSession, RuntimeDep, require_role
from kizuna.models import User

router = kizuna.routing.router(prefix="/api/v1/integrations", tags=["jma"])
Sender = Annotated[User, Depends(require_role("officer", "admin", "media"))]
Telegram = Annotated[
    bytes, Body(media_type="application/xml", description="One JMA 防災情報XML telegram.")
]


@router.post(
    "/jma",
    status_code=201,
    response_model=IngestOut,
    responses={
        200: {"model": SkippedOut, "description": "A type we do not turn into alerts, or a repeat"},
    },
)
def ingest_telegram(
    body: Telegram, session: DbSession, runtime: RuntimeDep, user: Sender
) -> JSONResponse:
    """Make alerts from one telegram: 201 with the alerts, 200 when it made or changed none."""
    # Only an admin's telegram may be issued at once: an officer or media account must not be
    # able to send residents a "JMA" warning of its own making.
    trusted = runtime.settings.jma_auto_issue and user.role == "admin"
    result = service.ingest(session, runtime.settings, body, trusted=trusted)
    if result.skipped:
        skipped = SkippedOut(
            skipped=result.skipped, type_code=result.type_code, reason=result.reason
        )
        return JSONResponse(skipped.model_dump(), status_code=200)
    answer = IngestOut.model_validate(result.to_dict())
    return JSONResponse(answer.model_dump(), status_code=201 if result.changed else 200)
