"""The routes behind the pages, checked over plain HTTP (these run without a browser)."""

from __future__ import annotations

from tests.support import CITY_A, LiveServer, http


def test_pages_and_their_static_files_are_served(web: LiveServer) -> None:
    for path, marker in [
        ("/", "/static/js/resident.js"),
        ("/console", "/static/js/console.js"),
        ("/console/shelters", "/static/js/board.js"),
        ("/shelter", "/static/js/shelter.js"),
        ("/responder", "/static/js/responder.js"),
        ("/volunteer", "/static/js/volunteer.js"),
    ]:
        page = http.get(web.url + path, timeout=30)
        assert page.status_code == 200, path
        assert page.headers["content-type"].startswith("text/html")
        assert marker in page.text
        # No inline code: every <script> names a file, so a strict CSP can follow.
        assert "<script>" not in page.text
        script = http.get(web.url + marker, timeout=30)
        assert script.status_code == 200
    vendored = http.get(web.url + "/static/vendor/leaflet/leaflet.js", timeout=30)
    assert vendored.status_code == 200
    assert http.get(web.url + "/static/i18n/en.json", timeout=30).json()["resident.safe"] == (
        "I am safe"
    )


def test_config_has_no_tile_source_unless_configured(web: LiveServer) -> None:
    config = http.get(web.url + "/api/v1/web/config", timeout=30).json()
    assert config["map_tile_url"] is None
    assert config["ui_languages"][0] == "ja"
    web.runtime.settings.map_tile_url = "http://tiles.local/{z}/{x}/{y}.png"
    config = http.get(web.url + "/api/v1/web/config", timeout=30).json()
    assert config["map_tile_url"] == "http://tiles.local/{z}/{x}/{y}.png"


def test_municipality_boundary_is_public_geojson(web: LiveServer) -> None:
    found = http.get(f"{web.url}/api/v1/municipalities/{CITY_A}", timeout=30)
    assert found.status_code == 200
    feature = found.json()
    assert feature["type"] == "Feature"
    assert feature["properties"] == {"code": CITY_A, "name": "Atown"}
    assert feature["bbox"] == [139.0, 35.0, 139.1, 35.1]
    # The 5-digit form gets its check digit.
    assert http.get(f"{web.url}/api/v1/municipalities/99998", timeout=30).json()["id"] == CITY_A

    missing = http.get(f"{web.url}/api/v1/municipalities/131016", timeout=30)
    assert missing.status_code == 404
    assert missing.json()["error"]["field"] == "code"
    bad = http.get(f"{web.url}/api/v1/municipalities/abc", timeout=30)
    assert bad.status_code == 422
    assert bad.json()["error"] == {
        "code": "invalid_input",
        "message": bad.json()["error"]["message"],
        "field": "code",
    }
