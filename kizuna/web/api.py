"""Routes for the pages, their runtime configuration and public municipality areas."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body, Depends
from fastapi.responses import FileResponse
from sqlalchemy.orm import Session

import kizuna.routing
from gis.codes import normalize_municipality_code
from kizuna.areas import districts_of, store_districts
from kizuna.deps import DbSession, RuntimeDep, require_role
from kizuna.errors import Forbidden, InvalidInput, NotFound
from kizuna.models import District, Municipality, User
from kizuna.web import PAGES_DIR, STATIC_DIR

router = kizuna.routing.router()
Officer = Annotated[User, Depends(require_role("officer", "admin"))]

# The UI languages a dictionary exists for, in the order the language picker lists them.
UI_LANGUAGES = ["ja", "en"]


def _page(name: str) -> FileResponse:
    # no-cache: pages are tiny and must pick up a new deploy at once; static files may be cached.
    return FileResponse(
        PAGES_DIR / name, media_type="text/html", headers={"Cache-Control": "no-cache"}
    )


@router.get("/", include_in_schema=False)
def resident_page() -> FileResponse:
    """The resident page: register places and languages, receive alerts, say "I am safe"."""
    return _page("resident.html")


@router.get("/console", include_in_schema=False)
def console_page() -> FileResponse:
    """The officer console: draw an area, write, preview, issue and follow an alert."""
    return _page("console.html")


@router.get("/console/shelters", include_in_schema=False)
def shelter_board_page() -> FileResponse:
    """The live shelter board of a municipality (`?municipality=`, else the officer's own)."""
    return _page("board.html")


@router.get("/shelter", include_in_schema=False)
def shelter_desk_page() -> FileResponse:
    """The shelter manager's desk: check people in and out, open and close the shelter."""
    return _page("shelter.html")


@router.get("/responder", include_in_schema=False)
def responder_page() -> FileResponse:
    """The responder's phone: dispatch offers live, accept with an ETA or decline, report status."""
    return _page("responder.html")


@router.get("/volunteer", include_in_schema=False)
def volunteer_page() -> FileResponse:
    """The volunteer's phone: profile, nearby requests, claim, start and complete."""
    return _page("volunteer.html")


@router.get("/sw.js", include_in_schema=False)
def service_worker() -> FileResponse:
    """The Web Push service worker, served from the root so its scope can be the whole site."""
    return FileResponse(
        STATIC_DIR / "js" / "sw.js",
        media_type="text/javascript",
        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"},
    )


@router.get("/api/v1/web/config", tags=["web"])
def web_config(runtime: RuntimeDep) -> dict[str, Any]:
    """What the pages need to know about this deployment.

    `map_tile_url` is a Leaflet URL template (`https://tiles.example/{z}/{x}/{y}.png`) or null:
    without one the maps show boundaries, areas and shelters on a blank background, so the
    pages work with no outside network at all.
    """
    return {
        "map_tile_url": runtime.settings.map_tile_url or None,
        "map_attribution": runtime.settings.map_attribution,
        "ui_languages": UI_LANGUAGES,
        # The console asks a colleague to approve instead of issuing when this is on.
        "two_person_rule": runtime.settings.two_person_required,
    }


def _municipality(session: Session, code: str) -> Municipality:
    """The municipality a path names: 422 for a malformed code, 404 for an unknown one."""
    try:
        normalized = normalize_municipality_code(code)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="code") from exc
    municipality = session.get(Municipality, normalized)
    if municipality is None:
        raise NotFound(f"no municipality {normalized}", field="code")
    return municipality


@router.get("/api/v1/municipalities/{code}", tags=["web"])
def municipality_boundary(code: str, session: DbSession) -> dict[str, Any]:
    """A municipality's boundary as a GeoJSON Feature; public, like any published boundary."""
    municipality = _municipality(session, code)
    return {
        "type": "Feature",
        "id": municipality.code,
        "properties": {"code": municipality.code, "name": municipality.name},
        "geometry": municipality.geometry,
        "bbox": [
            municipality.min_lon,
            municipality.min_lat,
            municipality.max_lon,
            municipality.max_lat,
        ],
    }


def _district_collection(districts: list[District]) -> dict[str, Any]:
    """Districts as a GeoJSON FeatureCollection, feature id = district id, sorted by name."""
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": district.id,
                "properties": {
                    "id": district.id,
                    "name": district.name,
                    "municipality_code": district.municipality_code,
                },
                "geometry": district.geometry,
                "bbox": [district.min_lon, district.min_lat, district.max_lon, district.max_lat],
            }
            for district in sorted(districts, key=lambda d: d.name)
        ],
    }


@router.get("/api/v1/municipalities/{code}/districts", tags=["web"])
def municipality_districts(code: str, session: DbSession) -> dict[str, Any]:
    """A municipality's districts (地区) as a GeoJSON FeatureCollection; public, like boundaries.

    An officer picks them as an alert area with `area.district_ids`.
    """
    municipality = _municipality(session, code)
    return _district_collection(districts_of(session, municipality.code))


@router.post("/api/v1/municipalities/{code}/districts", status_code=201, tags=["web"])
def import_municipality_districts(
    code: str,
    session: DbSession,
    user: Officer,
    collection: Annotated[dict[str, Any], Body(description="GeoJSON FeatureCollection")],
) -> dict[str, Any]:
    """Store districts from a GeoJSON FeatureCollection (`properties.name` each), replacing those
    of the same name; all or nothing. Admins, and officers of the municipality."""
    municipality = _municipality(session, code)
    if user.role != "admin" and municipality.code not in user.municipality_codes:
        raise Forbidden(f"municipality {municipality.code} is not one you act for", field="code")
    result = store_districts(session, municipality.code, collection, "name", actor=user)
    body = _district_collection(result.districts)
    # Foreign members (RFC 7946 §6.1): what the import changed, beside the stored features.
    body["created"], body["updated"] = result.created, result.updated
    return body
