"""compose.yaml as an operator relies on it: services, replicas, health, shared settings, proxy."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose.yaml"

SERVICES = {"postgres", "redis", "migrate", "api", "proxy", "worker", "beat"}
KIZUNA_PROCESSES = ("migrate", "api", "worker", "beat")
ONE_SHOT = {"migrate"}
READY_CONDITIONS = {"service_healthy", "service_completed_successfully"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(document, dict)
    return document


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def has_healthcheck(service: dict[str, Any]) -> bool:
    check = service.get("healthcheck")
    return bool(check) and not check.get("disable", False) and bool(check.get("test"))


def depends_on(service: dict[str, Any]) -> dict[str, str]:
    """Dependencies and their conditions (short list syntax means only 'started')."""
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return dict.fromkeys(deps, "service_started")
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def command(service: dict[str, Any]) -> list[str]:
    value = service.get("command", [])
    return value.split() if isinstance(value, str) else [str(part) for part in value]


def published_ports(service: dict[str, Any]) -> set[str]:
    ports = set()
    for port in service.get("ports", []):
        if isinstance(port, dict):
            ports.add(f"{port.get('published')}:{port['target']}")
        else:  # "[ip:]published:target[/protocol]"
            ports.add(":".join(str(port).split("/")[0].split(":")[-2:]))
    return ports


def test_compose_spec_without_version_key(compose: dict[str, Any]) -> None:
    assert "version" not in compose


def test_every_service_exists(services: dict[str, dict[str, Any]]) -> None:
    assert set(services) == SERVICES


def test_api_runs_two_replicas_behind_the_proxy(services: dict[str, dict[str, Any]]) -> None:
    api = services["api"]
    assert api["deploy"]["replicas"] == 2
    assert "build" in api
    assert command(api)[:2] == ["kizuna", "serve"]
    assert "ports" not in api, "replicas cannot share a host port: only the proxy publishes"


def test_proxy_publishes_8000_and_balances_over_api(services: dict[str, dict[str, Any]]) -> None:
    proxy = services["proxy"]
    assert proxy["image"].startswith("nginx:")
    assert "8000:8000" in published_ports(proxy)
    mounts = [str(volume) for volume in proxy.get("volumes", [])]
    config_mounts = [m for m in mounts if m.startswith("./deploy/nginx.conf:")]
    assert config_mounts and config_mounts[0].endswith(":ro"), mounts
    config = (ROOT / "deploy" / "nginx.conf").read_text()
    assert "api:8000" in config
    assert "resolver 127.0.0.11" in config, "re-resolve `api` so every replica gets traffic"


def test_proxy_passes_websocket_upgrades_with_long_timeouts() -> None:
    config = (ROOT / "deploy" / "nginx.conf").read_text()
    match = re.search(r"location /ws/ \{(?P<body>[^}]*)\}", config)
    assert match, "no `location /ws/` block"
    body = match["body"]
    assert "proxy_http_version 1.1;" in body
    assert "proxy_set_header Upgrade $http_upgrade;" in body
    assert re.search(r"proxy_set_header Connection \$connection_upgrade;", body)
    timeout = re.search(r"proxy_read_timeout (\d+)([smh]?);", body)
    assert timeout, "WebSockets need a long proxy_read_timeout"
    seconds = int(timeout[1]) * {"": 1, "s": 1, "m": 60, "h": 3600}[timeout[2]]
    assert seconds >= 600


def test_long_running_services_are_watched(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        if name in ONE_SHOT:
            continue
        assert service.get("restart") == "unless-stopped", name
        deps = depends_on(service)
        ready = bool(deps) and all(condition in READY_CONDITIONS for condition in deps.values())
        assert has_healthcheck(service) or ready, f"{name}: no healthcheck, nor healthy deps"


def test_migrate_runs_once_after_postgres_and_gates_the_rest(
    services: dict[str, dict[str, Any]],
) -> None:
    migrate = services["migrate"]
    assert command(migrate) == ["kizuna", "db", "upgrade"]
    assert migrate.get("restart") == "no"
    assert depends_on(migrate) == {"postgres": "service_healthy"}
    for name in ("api", "worker", "beat"):
        deps = depends_on(services[name])
        assert deps.get("migrate") == "service_completed_successfully", name
        assert deps.get("redis") == "service_healthy", name
        assert deps.get("postgres") == "service_healthy", name
    assert depends_on(services["proxy"]) == {"api": "service_healthy"}


def test_kizuna_processes_share_one_environment(services: dict[str, dict[str, Any]]) -> None:
    environments = [services[name].get("environment") for name in KIZUNA_PROCESSES]
    first = environments[0]
    assert isinstance(first, dict)
    for name, environment in zip(KIZUNA_PROCESSES, environments, strict=True):
        kizuna = {k: v for k, v in environment.items() if k.startswith("KIZUNA_")}
        assert kizuna == first, f"{name} does not share the KIZUNA_* environment"
    assert first["KIZUNA_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert "@postgres:5432/" in first["KIZUNA_DATABASE_URL"]
    assert first["KIZUNA_REDIS_URL"].startswith("redis://redis:6379/")
    # One JWT key for every process, taken from the operator's environment.
    assert first["KIZUNA_SECRET_KEY"].startswith("${KIZUNA_SECRET_KEY")


def test_workers_and_a_single_beat(services: dict[str, dict[str, Any]]) -> None:
    worker, beat = services["worker"], services["beat"]
    assert command(worker)[:2] == ["kizuna", "worker"]
    assert "--concurrency" in command(worker)
    assert command(beat) == ["kizuna", "beat"]
    # Prometheus reaches the workers' own counts: a port, and a directory the pool shares.
    metrics_port = command(worker)[command(worker).index("--metrics-port") + 1]
    assert metrics_port in [str(p) for p in worker["expose"]]
    assert worker["environment"]["PROMETHEUS_MULTIPROC_DIR"] in worker["tmpfs"]
    assert beat.get("deploy", {}).get("replicas", 1) == 1, "two beats would fire every timer twice"
    for name in ("worker", "beat"):
        assert services[name]["build"] == services["api"]["build"], f"{name}: not the api image"


def test_postgres_is_postgis_with_a_volume_and_healthcheck(
    services: dict[str, dict[str, Any]], compose: dict[str, Any]
) -> None:
    postgres = services["postgres"]
    assert postgres["image"].startswith("postgis/postgis:")
    assert postgres["environment"]["POSTGRES_DB"] == "kizuna"
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    volume = postgres["volumes"][0].split(":")[0]
    assert volume in compose["volumes"], "PostgreSQL data must be on a named volume"


def test_redis_persists_the_broker_and_stream(
    services: dict[str, dict[str, Any]], compose: dict[str, Any]
) -> None:
    redis = services["redis"]
    assert redis["image"].startswith("redis:7")
    args = command(redis)
    assert "--appendonly" in args and args[args.index("--appendonly") + 1] == "yes"
    assert redis["volumes"][0].split(":")[0] in compose["volumes"]
    assert "ping" in " ".join(redis["healthcheck"]["test"])


def test_dockerfile_runs_as_non_root_with_a_healthcheck() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim", dockerfile, re.MULTILINE)
    assert "pip install --no-cache-dir ." in dockerfile
    user = re.findall(r"^USER (\S+)", dockerfile, re.MULTILINE)
    assert user and user[-1] not in {"root", "0"}
    assert re.search(r"^HEALTHCHECK .*", dockerfile, re.MULTILINE)
    assert "/healthz" in dockerfile
    assert "KIZUNA_DATA_DIR=/var/lib/kizuna" in dockerfile


def test_docker_compose_accepts_the_file() -> None:
    docker = shutil.which("docker")
    if docker is None or (
        subprocess.run([docker, "compose", "version"], capture_output=True, timeout=30).returncode
    ):
        pytest.skip("docker compose plugin not installed: compose.yaml checked structurally only")
    env = {
        **os.environ,
        "KIZUNA_SECRET_KEY": "test-only-key-for-config-validation",
        "KIZUNA_WEBPUSH_VAPID_PRIVATE_KEY": "test-only-placeholder",
    }
    result = subprocess.run(
        [docker, "compose", "-f", str(COMPOSE), "config", "-q"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
