"""HTTP route of the open-data integration: upload a published shelter file."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from starlette.datastructures import UploadFile

import kizuna.routing
from integrations.opendata import service
from integrations.opendata.formats import make_options
from integrations.opendata.schemas import ImportOut
from kizuna.deps import DbSession, require_role
from kizuna.errors import InvalidInput
from kizuna.models import User

router = kizuna.routing.router(tags=["opendata"])
Importer = Annotated[User, Depends(require_role("officer", "admin"))]

_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The file: as a multipart part named `file`, or as the raw body.",
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "required": ["file"],
                }
            },
            "text/csv": {"schema": {"type": "string", "format": "binary"}},
            "application/geo+json": {"schema": {"type": "object"}},
        },
    }
}


@dataclass
class Upload:
    data: bytes
    filename: str | None


async def read_upload(request: Request) -> Upload:
    """The uploaded bytes: the multipart part `file` (or the only file part), else the body."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await request.form()
        parts = [v for v in form.values() if isinstance(v, UploadFile)]
        named = form.get("file")
        part = named if isinstance(named, UploadFile) else (parts[0] if parts else None)
        if part is None:
            raise InvalidInput("the form has no file part; send it as `file`", field="file")
        return Upload(await part.read(), part.filename)
    return Upload(await request.body(), None)


@router.post(
    "/api/v1/shelters/import",
    response_model=ImportOut,
    openapi_extra=_BODY_DOC,
    summary="Import a published shelter file (GSI, 自治体標準, municipal CSV, GeoJSON)",
)
def import_shelters(
    user: Importer,
    session: DbSession,
    upload: Annotated[Upload, Depends(read_upload)],
    municipality: Annotated[
        str | None, Query(description="全国地方公共団体コード for rows that state none")
    ] = None,
    kind: Annotated[
        str | None, Query(description="evacuation_site, shelter or welfare_shelter for every row")
    ] = None,
    crs: Annotated[str | None, Query(description="CRS of X/Y columns, e.g. EPSG:6675")] = None,
    column_map: Annotated[
        list[str] | None, Query(alias="map", description="SOURCE_COLUMN=FIELD, repeatable")
    ] = None,
    filename: Annotated[
        str | None, Query(description="the file's name, when sent as the raw body")
    ] = None,
) -> dict[str, Any]:
    """Create or update shelters from the file; status snapshots become history points."""
    options = make_options(municipality, column_map or [], kind, crs, filename or upload.filename)
    result = service.import_for_user(session, user, upload.data, options)
    if not (result.created or result.updated or result.unchanged or result.history_points) and (
        not result.history_unchanged
    ):
        # Not one row was usable: refuse the file (the audit entry rolls back with it).
        reasons = "; ".join(f"line {p.line}: {p.reason}" for p in result.errors[:5])
        raise InvalidInput(f"no row could be imported: {reasons or 'the file has no rows'}", "file")
    return result.out()
