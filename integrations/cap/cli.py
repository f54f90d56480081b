"""`kizuna cap ...` commands: import CAP files, print an alert as CAP."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from kizuna.settings import Settings

app = typer.Typer(help="CAP 1.2: import messages and feeds, export alerts.", no_args_is_help=True)
console = Console()
COLUMNS = ("identifier", "sender", "msg_type", "outcome", "alert_id", "signature")


@app.command("import")
def import_file(
    file: Annotated[
        Path,
        typer.Argument(
            help="A CAP 1.2 message, an Atom feed (its relative links are read from beside it), "
            "an EDXL-DE distribution or an <alerts> list.",
            exists=True,
            dir_okay=False,
        ),
    ],
    trusted: Annotated[
        bool, typer.Option(help="Issue at once instead of keeping drafts for an officer.")
    ] = False,
) -> None:
    """Import CAP alerts as the `system-cap` account; drafts unless trusted."""
    from alerts import system_user
    from integrations.cap.service import import_cap
    from integrations.xml import check_size
    from kizuna.db import Database
    from kizuna.errors import KizunaError
    from kizuna.migrate import upgrade

    settings = Settings()
    upgrade(settings)
    database = Database(settings.resolved_database_url)
    try:
        check_size(file.stat().st_size, settings.max_xml_bytes, str(file))
        with database.session() as session:
            actor = system_user(session, "cap")
            imported = import_cap(
                session,
                settings,
                actor,
                file.read_bytes(),
                trusted=trusted,
                base_dir=file.resolve().parent,
            )
            rows = [item.as_dict() for item in imported]
    except KizunaError as exc:
        where = f" ({exc.field})" if exc.field else ""
        console.print(f"[red]error:[/red] {exc.message}{where}", soft_wrap=True)
        raise typer.Exit(code=2) from None
    finally:
        database.dispose()
    table = Table(title=f"{len(rows)} CAP message(s) from {file.name}")
    for column in COLUMNS:
        table.add_column(column)
    for row in rows:
        table.add_row(*(str(row[column]) for column in COLUMNS))
    console.print(table)


@app.command("export")
def export_alert(
    alert_id: Annotated[str, typer.Argument(help="The alert's id.")],
    version: Annotated[int | None, typer.Option(help="Version number; default current.")] = None,
) -> None:
    """Print an alert (or its draft) as CAP 1.2 XML."""
    from alerts import system_user
    from integrations.cap.service import export_cap
    from kizuna.db import Database
    from kizuna.errors import KizunaError
    from kizuna.migrate import upgrade

    settings = Settings()
    upgrade(settings)
    database = Database(settings.resolved_database_url)
    try:
        with database.session() as session:
            body = export_cap(session, settings, system_user(session, "cap"), alert_id, version)
    except KizunaError as exc:
        console.print(f"[red]error:[/red] {exc.message}", soft_wrap=True)
        raise typer.Exit(code=2) from None
    finally:
        database.dispose()
    typer.echo(body.decode("utf-8"), nl=False)
