"""Fuzz every operation of the app's own OpenAPI with schemathesis against a real server.

CI runs `FUZZ_EXAMPLES` (default 10) examples per operation and user, and a short stateful
run; `make fuzz` raises both. Any 5xx, undeclared status code, content type or body that does not
match the declared schema fails the test.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from kizuna.settings import Settings
from tests.support import LiveServer, http, make_settings, start_server

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10"))
STATEFUL_STEPS = int(os.environ.get("FUZZ_STEPS", "8"))
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]
HYPOTHESIS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=os.environ.get("FUZZ_RANDOM") != "1",
    database=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
)

# Links the stateful test follows: what a client does next with an answer it got.
# (source path, method, status) -> [(target path, method, path parameter)]; the id comes from
# the answer's body.
LINKS: dict[tuple[str, str, str], list[tuple[str, str, str]]] = {
    ("/api/v1/alerts", "post", "201"): [
        ("/api/v1/alerts/{alert_id}/issue", "post", "alert_id"),
        ("/api/v1/alerts/{alert_id}", "get", "alert_id"),
        ("/api/v1/alerts/{alert_id}/cancel", "post", "alert_id"),
    ],
    ("/api/v1/subscriptions", "post", "201"): [
        ("/api/v1/subscriptions/{subscription_id}", "put", "subscription_id"),
        ("/api/v1/subscriptions/{subscription_id}", "delete", "subscription_id"),
    ],
    ("/api/v1/incidents", "post", "201"): [
        ("/api/v1/incidents/{incident_id}", "get", "incident_id"),
    ],
    ("/api/v1/aid/requests", "post", "201"): [
        ("/api/v1/aid/requests/{request_id}", "get", "request_id"),
    ],
}


def with_links(spec: dict[str, Any]) -> dict[str, Any]:
    """The app's OpenAPI with the stateful links added (only those whose ends exist)."""
    spec = copy.deepcopy(spec)
    paths = spec["paths"]
    for (path, method, status), targets in LINKS.items():
        response = paths.get(path, {}).get(method, {}).get("responses", {}).get(status)
        if response is None:
            continue
        links = {}
        for target, target_method, parameter in targets:
            operation = paths.get(target, {}).get(target_method)
            if operation is None:
                continue
            links[operation["operationId"]] = {
                "operationId": operation["operationId"],
                "parameters": {parameter: "$response.body#/id"},
            }
        if links:
            response["links"] = links
    return spec


def fuzz_settings(data_dir: Path, database_url: str | None) -> Settings:
    """A server whose rate limits do not hide the routes behind 429s."""
    return make_settings(data_dir, database_url, subscription_rate_limit=0, login_rate_limit=0)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def fuzz_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """One real server per backend for the whole module (the fuzz writes freely to it)."""
    database_url: str | None = None
    if request.param == "postgresql":
        from tests.conftest import unavailable
        from tests.services import fresh_database, postgres_reason

        reason = postgres_reason()
        if reason:
            unavailable("PostgreSQL", reason)
        context = fresh_database()
        database_url = context.__enter__()
        request.addfinalizer(lambda: context.__exit__(None, None, None))
    live = start_server(fuzz_settings(tmp_path_factory.mktemp("fuzz"), database_url))
    try:
        yield live
    finally:
        live.stop()


def load_schema(server: LiveServer, username: str) -> Any:
    """The running app's own OpenAPI, with links, aimed at `server` as `username`."""
    spec = http.get(f"{server.url}/openapi.json", timeout=30).json()
    loaded = schemathesis.openapi.from_dict(with_links(spec))
    loaded.config.update(base_url=server.url, headers=server.auth(username))
    return loaded


@pytest.mark.parametrize("username", ["admin", "officer-a"])
def test_every_operation_answers_as_declared(fuzz_server: LiveServer, username: str) -> None:
    """No 5xx; every status, content type and body is the one OpenAPI declares.

    As admin (admin routes) and officer-a (officer routes). One test walks every operation and
    reports every failing one at once (schemathesis' pytest loader does not run on pytest 9).
    """
    api = load_schema(fuzz_server, username)
    failures: list[str] = []
    operations = 0
    for result in api.get_all_operations():
        operation = result.ok()
        operations += 1

        # Valid requests reach the logic; schema-breaking ones test the refusals.
        strategy = st.one_of(
            operation.as_strategy(GenerationMode.POSITIVE),
            operation.as_strategy(GenerationMode.NEGATIVE),
        )

        @given(case=strategy)
        @HYPOTHESIS
        def fuzz(case: Any) -> None:
            case.call_and_validate(checks=CHECKS)

        try:
            fuzz()
        except Exception as error:
            failures.append(f"{operation.label}: {error}")
    assert operations > 50
    assert not failures, "\n\n".join(failures)


def test_stateful_links_hold(fuzz_server: LiveServer) -> None:
    """Follow the links (create alert → issue/get/cancel, subscribe → update/delete, …)."""
    api = load_schema(fuzz_server, "officer-a")

    class Machine(api.as_state_machine()):  # type: ignore[misc]
        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            case.validate_response(response, checks=CHECKS)

    Machine.run(
        settings=settings(
            max_examples=max(2, EXAMPLES // 2),
            stateful_step_count=STATEFUL_STEPS,
            deadline=None,
            database=None,
            derandomize=os.environ.get("FUZZ_RANDOM") != "1",
            suppress_health_check=list(HealthCheck),
        )
    )
