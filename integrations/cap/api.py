"""HTTP routes of the cap integration: export one alert, import messages, the public Atom feed."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Header, Query, Request, Response
from pydantic import BaseModel

import kizuna.routing
from integrations.cap import service
from integrations.cap.errors import UnsupportedMediaType
from integrations.cap.feed import FEED_MEDIA_TYPE, FEED_PATH, build_feed
from integrations.cap.model import MEDIA_TYPE
from integrations.xml import check_size
from kizuna.auth import user_from_token
from kizuna.deps import DbSession, RuntimeDep, oauth2_scheme, require_role
from kizuna.models import User

router = kizuna.routing.router(tags=["cap"])
Importer = Annotated[User, Depends(require_role("media", "officer", "admin"))]
XML_TYPES = ("application/cap+xml", "application/xml", "text/xml", "application/atom+xml")
_CAP_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {MEDIA_TYPE: {"schema": {"type": "string"}}}, "description": "CAP 1.2 XML"}
}


def optional_user(
    runtime: RuntimeDep, session: DbSession, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> User | None:
    """The logged-in user when a bearer token is sent; None for the public."""
    return user_from_token(session, runtime.settings, token) if token else None


async def xml_body(request: Request, runtime: RuntimeDep) -> bytes:
    """The request body as bytes: XML by its Content-Type, read only up to max_xml_bytes."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in XML_TYPES:
        raise UnsupportedMediaType(
            f"send CAP XML as {' or '.join(XML_TYPES[:2])}, not {media_type or 'no type'}",
            field="content-type",
        )
    limit = runtime.settings.max_xml_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit():
        check_size(int(declared), limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        check_size(size, limit)
        chunks.append(chunk)
    return b"".join(chunks)


class ImportedOut(BaseModel):
    identifier: str
    sender: str
    msg_type: str
    alert_id: str
    version: int | None
    outcome: str
    recipients: int
    signature: str


class ImportOut(BaseModel):
    imported: int
    messages: list[ImportedOut]


@router.get("/api/v1/alerts/{alert_id}/cap", response_class=Response, responses=_CAP_RESPONSE)
def alert_cap(
    alert_id: str,
    session: DbSession,
    runtime: RuntimeDep,
    viewer: Annotated[User | None, Depends(optional_user)],
    version: Annotated[int | None, Query(ge=1, description="Version; default the current")] = None,
) -> Response:
    """An alert's version as CAP 1.2 XML: public once issued; a draft only for its officers."""
    body = service.export_cap(session, runtime.settings, viewer, alert_id, version)
    return Response(body, media_type=MEDIA_TYPE)


@router.post(
    "/api/v1/integrations/cap",
    response_model=ImportOut,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {media: {"schema": {"type": "string"}} for media in XML_TYPES},
        }
    },
)
def import_cap(
    user: Importer,
    body: Annotated[bytes, Depends(xml_body)],
    session: DbSession,
    runtime: RuntimeDep,
) -> Any:
    """Import CAP 1.2 (one alert, an Atom feed, EDXL-DE or <alerts>): drafts unless trusted."""
    imported = service.import_cap(session, runtime.settings, user, body)
    return {"imported": len(imported), "messages": [item.as_dict() for item in imported]}


@router.get(FEED_PATH, response_class=Response, tags=["feeds"])
def cap_feed(
    session: DbSession,
    runtime: RuntimeDep,
    if_none_match: Annotated[str | None, Header()] = None,
    if_modified_since: Annotated[str | None, Header()] = None,
) -> Response:
    """Atom index of active alerts, each linking its CAP; revalidate with ETag/Last-Modified."""
    feed = build_feed(session, runtime.settings)
    headers = {
        "ETag": feed.etag,
        "Last-Modified": feed.last_modified_http,
        # Alerts are urgent: caches must revalidate every time (cheap with the validators).
        "Cache-Control": "no-cache",
    }
    if feed.not_modified(if_none_match, if_modified_since):
        return Response(status_code=304, headers=headers)
    return Response(feed.body, media_type=FEED_MEDIA_TYPE, headers=headers)
