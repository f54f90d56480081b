"""HTTP routes of the lalert integration: import a message, export alerts and a feed."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, Request, Response
from pydantic import BaseModel

import kizuna.routing
from integrations.lalert import service
from integrations.xml import check_size
from kizuna.deps import DbSession, RuntimeDep, require_role
from kizuna.models import User

router = kizuna.routing.router(tags=["lalert"])
Importer = Annotated[User, Depends(require_role("officer", "admin", "media"))]


class LAlertImportOut(BaseModel):
    """The outcome of one imported message (`skipped` comes with a reason)."""

    outcome: str
    alert_id: str | None
    version: int | None
    recipients: int
    identifier: str | None
    msg_type: str | None
    municipality_code: str | None
    evacuation_level: int | None
    reason: str | None


async def _xml_body(request: Request, runtime: RuntimeDep) -> bytes:
    """The raw request body, refused (413) as soon as it passes settings.max_xml_bytes."""
    limit = runtime.settings.max_xml_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit():
        check_size(int(declared), limit)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        check_size(len(body), limit)
    return bytes(body)


XmlBody = Annotated[bytes, Depends(_xml_body)]


@router.post(
    "/api/v1/integrations/lalert",
    response_model=LAlertImportOut,
    openapi_extra={
        "requestBody": {
            "content": {"application/xml": {"schema": {"type": "string"}}},
            "required": True,
        },
    },
)
def import_lalert(user: Importer, data: XmlBody, session: DbSession, runtime: RuntimeDep) -> Any:
    """Import an L-Alert (公共情報コモンズ) message: a draft, or issued for a trusted sender."""
    return service.import_xml(session, runtime.settings, user, data)


@router.get(
    "/api/v1/alerts/{alert_id}/lalert",
    response_class=Response,
    responses={200: {"content": {service.XML_MEDIA_TYPE: {}}}},
)
def export_alert(
    alert_id: str,
    session: DbSession,
    runtime: RuntimeDep,
    version: Annotated[int | None, Query(ge=1, description="Version (documentRevision).")] = None,
) -> Response:
    """An issued alert's revision as an L-Alert EDXL-DE message (public: it was broadcast)."""
    body = service.alert_message(session, runtime.settings, alert_id, version)
    return Response(body, media_type=service.XML_MEDIA_TYPE)


@router.get(
    "/feeds/lalert/{municipality_code}.xml",
    response_class=Response,
    responses={200: {"content": {service.FEED_MEDIA_TYPE: {}}}},
)
def municipality_feed(municipality_code: str, session: DbSession, runtime: RuntimeDep) -> Response:
    """A municipality's active evacuation alerts: Atom, one EDXL-DE message per entry."""
    body = service.municipality_feed(session, runtime.settings, municipality_code)
    return Response(body, media_type=service.FEED_MEDIA_TYPE)
