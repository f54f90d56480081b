"""The `kizuna` command: serve, migrate, seed demo data, manage users and areas."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from kizuna.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

app = typer.Typer(help="Kizuna: disaster alerts and shelter coordination.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
users_app = typer.Typer(help="User accounts.", no_args_is_help=True)
areas_app = typer.Typer(help="Municipality areas (boundaries, districts).", no_args_is_help=True)
audit_app = typer.Typer(help="The audit log and its hash chain.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(areas_app, name="areas")
app.add_typer(audit_app, name="audit")
console = Console()


def _add_integration_commands() -> None:
    import importlib

    from integrations import INTEGRATIONS

    for name in INTEGRATIONS:
        module = importlib.import_module(f"integrations.{name}.cli")
        app.add_typer(module.app, name=name)
    # Shelter files are open data: the importer lives in integrations/opendata.
    from integrations.opendata.cli import app as shelters_app

    app.add_typer(shelters_app, name="shelters", help="Shelter registry: import open data.")
    from dispatch.cli import app as responders_app
    from mutual_aid.cli import app as aid_app

    app.add_typer(responders_app, name="responders", help="Fire corps and staff roster.")
    app.add_typer(aid_app, name="aid", help="Mutual aid (共助).")


_add_integration_commands()


def _configure_logging(settings: Settings) -> None:
    """JSON (or text) log lines with request ids for the long-running commands."""
    from kizuna.logging import configure_logging

    configure_logging(settings.log_format, settings.log_level)


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]error:[/red] {message}")
    return typer.Exit(code=2)


@contextmanager
def migrated_session(settings: Settings) -> Iterator[Session]:
    """A session on the database, migrated first, for one command: it commits when the block
    ends; a KizunaError becomes exit code 2 naming its field; the engine is always disposed."""
    from kizuna.db import Database
    from kizuna.errors import KizunaError
    from kizuna.migrate import upgrade

    upgrade(settings)
    database = Database(settings.resolved_database_url)
    try:
        with database.session() as session:
            yield session
    except KizunaError as exc:
        raise _fail(f"{exc.message}" + (f" ({exc.field})" if exc.field else "")) from None
    finally:
        database.dispose()


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply pending migrations."""
    from kizuna.migrate import upgrade

    settings = Settings()
    upgrade(settings)
    console.print(f"database at head: {settings.database_url_for_display}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
) -> None:
    """Apply pending migrations, then run the API and WebSocket gateway."""
    import uvicorn

    from kizuna.app import create_app
    from kizuna.migrate import upgrade

    settings = Settings()
    _configure_logging(settings)
    upgrade(settings)
    console.print(f"Kizuna API      http://{host}:{port}/api/v1")
    console.print(f"OpenAPI docs    http://{host}:{port}/docs")
    console.print(f"health          http://{host}:{port}/healthz")
    console.print(f"residents' WS   ws://{host}:{port}/ws/alerts?token=<subscription token>")
    # log_config=None keeps our handlers; our middleware writes the access lines.
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level=settings.log_level.lower(),
        log_config=None,
        access_log=False,
        # The implementation the tests run; its send waits while the socket's buffer is full,
        # which is what lets kizuna/ws.py drop a resident who stops reading.
        ws="websockets-sansio",
        # Forwarded headers are believed only from KIZUNA_TRUSTED_PROXIES (kizuna/security.py).
        proxy_headers=False,
    )


def _empty_metrics_dir() -> None:
    # Before kizuna.metrics is imported: its counters open their files in this directory then,
    # and an earlier run's files would be summed with this run's.
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        os.makedirs(directory, exist_ok=True)
        for name in os.listdir(directory):
            if name.endswith(".db"):
                os.remove(os.path.join(directory, name))


@app.command()
def worker(
    concurrency: Annotated[int, typer.Option(help="Worker processes or threads.")] = 2,
    pool: Annotated[str, typer.Option(help="prefork, solo or threads.")] = "prefork",
    loglevel: Annotated[str, typer.Option(help="Celery log level.")] = "INFO",
    metrics_port: Annotated[
        int | None,
        typer.Option(help="Serve Prometheus metrics on this port (0.0.0.0); off when unset."),
    ] = None,
) -> None:
    """Run a Celery worker for fan-out and timers (needs KIZUNA_REDIS_URL)."""
    if metrics_port is not None:
        _empty_metrics_dir()
    from kizuna import metrics
    from kizuna.migrate import upgrade
    from kizuna.runtime import build_runtime

    settings = Settings()
    if not settings.redis_url:
        raise _fail("KIZUNA_REDIS_URL is not set: the embedded default runs tasks in `serve`")
    if metrics_port is not None and pool == "prefork" and not os.environ.get(metrics.MULTIPROC_ENV):
        raise _fail(
            f"--metrics-port with --pool prefork needs {metrics.MULTIPROC_ENV}: the tasks run in "
            "pool processes, whose counts only reach the port through that directory"
        )
    _configure_logging(settings)
    upgrade(settings)
    runtime = build_runtime(settings)
    if metrics_port is not None:
        metrics.serve_process_metrics(metrics_port)
    runtime.celery.worker_main(
        [
            "worker",
            f"--concurrency={concurrency}",
            f"--pool={pool}",
            f"--loglevel={loglevel}",
            "--queues=kizuna",
            "--without-gossip",
            "--without-mingle",
        ]
    )


@app.command()
def beat(
    loglevel: Annotated[str, typer.Option(help="Celery log level.")] = "INFO",
) -> None:
    """Run Celery beat: alert expiry, the fan-out reconciler and the outbox relay timers."""
    from kizuna.runtime import build_runtime

    settings = Settings()
    if not settings.redis_url:
        raise _fail("KIZUNA_REDIS_URL is not set: the embedded default runs timers in `serve`")
    _configure_logging(settings)
    runtime = build_runtime(settings)
    schedule = settings.data_dir / "celerybeat-schedule"
    runtime.celery.start(["beat", f"--loglevel={loglevel}", f"--schedule={schedule}"])


@app.command()
def demo(
    subscribers: Annotated[int, typer.Option(help="Synthetic residents to create.")] = 3000,
) -> None:
    """Seed the demo city, a user per role and synthetic residents (idempotent)."""
    from kizuna.demo import seed_demo

    settings = Settings()
    with migrated_session(settings) as session:
        summary = seed_demo(session, settings, subscribers=subscribers)
    table = Table(title=f"Demo logins — {summary.municipality_name} ({summary.municipality_code})")
    table.add_column("username")
    table.add_column("role")
    table.add_column("password")
    for username, role in summary.users:
        table.add_row(username, role, summary.password)
    console.print(table)
    console.print(f"{summary.subscribers} synthetic residents registered.")


@users_app.command("create")
def users_create(
    name: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[
        str, typer.Option(help="admin, officer, shelter_manager, responder, volunteer or media.")
    ],
    password: Annotated[str, typer.Option(help="At least 8 characters.")],
    municipality: Annotated[
        list[str] | None, typer.Option(help="全国地方公共団体コード (5 or 6 digits); repeatable.")
    ] = None,
) -> None:
    """Create a user who acts for the given municipalities."""
    from kizuna.auth import create_user

    settings = Settings()
    with migrated_session(settings) as session:
        user = create_user(
            session, settings, name, password, role, municipality or [], created_by="system:cli"
        )
        scope = ", ".join(user.municipality_codes) or "all municipalities"
        console.print(f"created {user.username} ({user.role}) for {scope}")


@areas_app.command("import")
def areas_import(
    file: Annotated[
        Path,
        typer.Argument(
            help="GeoJSON FeatureCollection of boundaries.", exists=True, dir_okay=False
        ),
    ],
    code_property: Annotated[
        str, typer.Option(help="Property holding the municipality code.")
    ] = "N03_007",
    name_property: Annotated[str, typer.Option(help="Property holding the name.")] = "N03_004",
) -> None:
    """Import municipality boundaries; features of one code merge into one area."""
    from gis import GeometryError
    from kizuna.areas import import_boundaries

    try:
        with migrated_session(Settings()) as session:
            areas, skipped = import_boundaries(session, file, code_property, name_property)
            for municipality in areas:
                console.print(f"  {municipality.code}  {municipality.name}")
    except GeometryError as exc:
        raise _fail(exc.message) from None
    console.print(f"imported {len(areas)} municipalities; skipped {len(skipped)} features")
    for reason in skipped:
        console.print(f"  [yellow]skipped[/yellow] {reason}")


@areas_app.command("import-districts")
def areas_import_districts(
    file: Annotated[
        Path,
        typer.Argument(
            help="GeoJSON FeatureCollection of districts (地区), lon/lat.",
            exists=True,
            dir_okay=False,
        ),
    ],
    municipality: Annotated[
        str, typer.Option(help="全国地方公共団体コード of the municipality (5 or 6 digits).")
    ],
    name_property: Annotated[str, typer.Option(help="Property holding the district name.")] = (
        "name"
    ),
) -> None:
    """Import a municipality's districts, replacing those of the same name; all or nothing."""
    from kizuna.areas import import_districts

    with migrated_session(Settings()) as session:
        result = import_districts(session, municipality, file, name_property)
        for district in result.districts:
            console.print(f"  {district.id}  {district.name}")
        code = result.districts[0].municipality_code
    console.print(
        f"imported {len(result.districts)} districts of {code}: "
        f"{result.created} new, {result.updated} replaced"
    )


@audit_app.command("verify")
def audit_verify() -> None:
    """Walk the audit hash chain; exit 1 naming the first broken seq (deleted or altered)."""
    from kizuna.audit import verify

    with migrated_session(Settings()) as session:
        result = verify(session)
    if not result.ok:
        console.print(
            f"[red]audit chain broken at seq {result.broken_seq}[/red] ({result.reason}): "
            f"{result.message}",
            soft_wrap=True,
        )
        raise typer.Exit(code=1)
    console.print(
        f"audit chain intact: {result.entries} entries ({result.unchained} before the chain)"
    )


@audit_app.command("tail")
def audit_tail(
    n: Annotated[int, typer.Option("-n", "--lines", min=1, max=1000, help="Entries.")] = 20,
) -> None:
    """Print the newest audit entries, oldest of them first."""
    import json

    from sqlalchemy import select

    from kizuna.models import AuditEntry

    with migrated_session(Settings()) as session:
        entries = list(
            session.scalars(
                select(AuditEntry)
                .order_by(AuditEntry.seq.is_(None), AuditEntry.seq.desc(), AuditEntry.id.desc())
                .limit(n)
            )
        )
    for entry in reversed(entries):
        detail = (
            json.dumps(entry.detail, ensure_ascii=False, sort_keys=True) if entry.detail else ""
        )
        where = " ".join(x for x in (entry.remote_addr, entry.request_id) if x)
        console.print(
            f"{entry.seq if entry.seq is not None else '-':>6} {entry.at.isoformat()} "
            f"{entry.actor} {entry.action} {entry.subject or '-'} {detail} {where}".rstrip(),
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
