"""A corpus of bad GeoJSON, CAP and JMA XML and shelter CSV, posted to the real routes.

Each file must be refused with a 4xx in the one error shape, with a message (and, where one
field is to blame, its name), and must leave every table it could write to as it was.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from tests.support import CITY_A, LiveServer, alert_body

CORPUS = Path(__file__).parent / "corpus"
TABLES = ("alerts", "alert_versions", "external_messages", "shelters", "districts")
XML = {"content-type": "application/xml"}


def counts(server: LiveServer) -> dict[str, int]:
    """Rows in every table an import or a draft could write to."""
    with server.runtime.db.session() as session:
        return {
            t: int(session.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()) for t in TABLES
        }


def refusal_problem(response: httpx.Response) -> str | None:
    """Why `response` is not a clean refusal in the one error shape (None when it is)."""
    if not 400 <= response.status_code < 500:
        return f"status {response.status_code}: {response.text[:300]}"
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        return f"not the error shape: {response.text[:300]}"
    if set(error) != {"code", "message", "field"} or not error["message"]:
        return f"error without code/message/field: {error}"
    return None


def expect_refused(
    server: LiveServer, cases: list[tuple[str, Any]], send: Any, *, field: bool = False
) -> list[str]:
    """Send each case; collect every one answered otherwise than a 4xx that stored nothing."""
    problems = []
    with server.client() as client:
        for name, payload in cases:
            before = counts(server)
            response = send(client, payload)
            problem = refusal_problem(response)
            if problem is None and field and not response.json()["error"]["field"]:
                problem = f"no field named: {response.json()['error']}"
            after = counts(server)
            if after != before:
                problem = f"{problem or ''} stored something: {before} -> {after}".strip()
            if problem:
                problems.append(f"{name}: {problem}")
    return problems


def corpus(kind: str) -> list[tuple[str, bytes]]:
    files = sorted((CORPUS / kind).iterdir())
    assert len(files) >= 10, f"corpus/{kind} is missing files"
    return [(path.name, path.read_bytes()) for path in files]


def geometries() -> list[tuple[str, bytes]]:
    """The GeoJSON corpus plus two generated ones: deep nesting and a million vertices."""
    deep = b"[" * 5000 + b"139.0, 35.0" + b"]" * 5000
    ring = ",".join(f"[139.{i % 10_000:04d},35.0{i % 10}]" for i in range(1_000_000))
    return [
        *corpus("geojson"),
        ("deep_nesting (generated)", b'{"type": "Polygon", "coordinates": ' + deep + b"}"),
        (
            "million_vertices (generated)",
            b'{"type": "Polygon", "coordinates": [[' + ring.encode() + b"]]}",
        ),
    ]


def with_geometry(template: dict[str, Any], geometry: bytes) -> bytes:
    """`template` as JSON with the raw geometry text spliced in (keeping NaN and 1e999 as sent)."""
    return json.dumps(template).encode().replace(b'"@GEOMETRY@"', geometry)


def test_bad_geojson_is_refused_by_alerts_preview_and_districts(server: LiveServer) -> None:
    officer = {**server.auth("officer-a"), "content-type": "application/json"}
    draft = alert_body(area={"geometry": "@GEOMETRY@"})
    districts = {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "properties": {"name": "fuzz"}, "geometry": "@GEOMETRY@"}],
    }
    cases = geometries()
    problems: list[str] = []
    for route in ("/api/v1/alerts", "/api/v1/alerts/preview"):
        problems += [
            f"POST {route} {p}"
            for p in expect_refused(
                server,
                [(n, with_geometry(draft, g)) for n, g in cases],
                lambda c, body, route=route: c.post(route, content=body, headers=officer),
            )
        ]
    route = f"/api/v1/municipalities/{CITY_A}/districts"
    problems += [
        f"POST {route} {p}"
        for p in expect_refused(
            server,
            [(n, with_geometry(districts, g)) for n, g in cases],
            lambda c, body: c.post(route, content=body, headers=officer),
        )
    ]
    assert not problems, "\n".join(problems)

    # The same route takes a good area: the refusals above are about the geometry.
    with server.client() as client:
        good = client.post("/api/v1/alerts", json=alert_body(), headers=officer)
        assert good.status_code == 201, good.text


def test_bad_district_collections_are_refused(server: LiveServer) -> None:
    point = json.loads((CORPUS / "geojson" / "point_not_area.json").read_text())
    cases: list[tuple[str, Any]] = [
        ("features not a list", {"type": "FeatureCollection", "features": {}}),
        ("not a collection", {"type": "Feature", "properties": {"name": "x"}, "geometry": None}),
        (
            "feature without name",
            {
                "type": "FeatureCollection",
                "features": [{"type": "Feature", "properties": {}, "geometry": point}],
            },
        ),
        ("empty collection", {"type": "FeatureCollection", "features": []}),
        ("a list", [1, 2, 3]),
    ]
    route = f"/api/v1/municipalities/{CITY_A}/districts"
    problems = expect_refused(
        server, cases, lambda c, body: c.post(route, json=body, headers=server.auth("officer-a"))
    )
    assert not problems, "\n".join(problems)


def test_bad_cap_xml_is_refused_and_nothing_is_imported(server: LiveServer) -> None:
    admin = {**server.auth("admin"), **XML}
    cases = [*corpus("cap"), ("20 MB body (generated)", b"<alert>" + b" " * 20_000_000)]
    problems = expect_refused(
        server,
        cases,
        lambda c, body: c.post("/api/v1/integrations/cap", content=body, headers=admin),
    )
    assert not problems, "\n".join(problems)
    with server.client() as client:
        too_large = client.post("/api/v1/integrations/cap", content=cases[-1][1], headers=admin)
        assert too_large.status_code == 413, too_large.text
        xxe = client.post(
            "/api/v1/integrations/cap",
            content=(CORPUS / "cap" / "xxe_file_entity.xml").read_bytes(),
            headers=admin,
        )
        assert "root:" not in xxe.text


def test_bad_jma_xml_is_refused_and_nothing_is_imported(server: LiveServer) -> None:
    admin = {**server.auth("admin"), **XML}
    cases = [*corpus("jma"), ("20 MB body (generated)", b"<Report>" + b" " * 20_000_000)]
    problems = expect_refused(
        server,
        cases,
        lambda c, body: c.post("/api/v1/integrations/jma", content=body, headers=admin),
    )
    assert not problems, "\n".join(problems)


def test_bad_shelter_csv_is_refused_and_nothing_is_stored(server: LiveServer) -> None:
    officer = {**server.auth("officer-a"), "content-type": "text/csv"}
    files = [c for c in corpus("csv") if c[0] != "formula_injection.csv"]
    problems = expect_refused(
        server,
        files,
        lambda c, body: c.post(
            "/api/v1/shelters/import",
            params={"municipality": CITY_A},
            content=body,
            headers=officer,
        ),
    )
    assert not problems, "\n".join(problems)


def test_bad_rows_among_good_ones_are_refused_one_by_one(server: LiveServer) -> None:
    """A file with good rows is imported; each bad row is named and not stored."""
    officer = {**server.auth("officer-a"), "content-type": "text/csv"}
    body = (CORPUS / "csv_rows" / "mixed_rows.csv").read_bytes()
    with server.client() as client:
        response = client.post(
            "/api/v1/shelters/import",
            params={"municipality": CITY_A},
            content=body,
            headers=officer,
        )
        assert response.status_code == 200, response.text
        report = response.json()
        listed = client.get("/api/v1/shelters", params={"municipality": CITY_A}).json()
    assert report["errors"] == [
        {"line": 3, "reason": "source ID F-1 appears twice (first on line 2)"}
    ], report
    shelters = {s["name"]: s for s in listed}
    # The duplicate is not stored; the first F-1 is. A place outside Japan is kept but flagged
    # (the shelters registry's policy: a remote island must not be lost to a tight box).
    assert set(shelters) == {"絆小学校", "絆体育館", "絆中学校", "London school"}
    assert any(w["line"] == 6 and "outside Japan" in w["reason"] for w in report["warnings"])
    # A capacity nobody can read is left empty (and said so), never guessed.
    assert shelters["絆体育館"]["capacity"] is None
    assert any(w["line"] == 4 for w in report["warnings"]), report
    # Latitude and longitude given the wrong way round are put right (and said so).
    middle = shelters["絆中学校"]
    assert (round(middle["lat"], 2), round(middle["lon"], 2)) == (35.04, 139.04), middle
    assert any(w["line"] == 5 and "swapped" in w["reason"] for w in report["warnings"])


def test_spreadsheet_formulas_in_a_shelter_file_stay_plain_text(server: LiveServer) -> None:
    officer = {**server.auth("officer-a"), "content-type": "text/csv"}
    body = (CORPUS / "csv" / "formula_injection.csv").read_bytes()
    with server.client() as client:
        response = client.post(
            "/api/v1/shelters/import",
            params={"municipality": CITY_A},
            content=body,
            headers=officer,
        )
        if response.status_code != 200:
            assert refusal_problem(response) is None
            return
        listed = client.get("/api/v1/shelters", params={"municipality": CITY_A}).json()
    names = [shelter["name"] for shelter in listed]
    # Stored exactly as sent, as text: nothing evaluated, nothing stripped to a different value.
    assert names == ["=cmd|' /C calc'!A0"], names
