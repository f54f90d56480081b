"""Commands of the dispatch capability: `kizuna responders import`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from kizuna.settings import Settings

app = typer.Typer(help="Responders (消防団, staff): the dispatch roster.", no_args_is_help=True)
console = Console()


@app.command("import")
def import_command(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV: username,name,kind,unit,skills(;-separated),municipality,phone,lon,lat",
            exists=True,
            dir_okay=False,
        ),
    ],
) -> None:
    """Create responders (printing each new random password once) or update their profiles."""
    from dispatch.service import import_roster
    from kizuna.cli import migrated_session

    settings = Settings()
    raw = file.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp932")  # Shift_JIS, as spreadsheets in Japan often save
    with migrated_session(settings) as session:
        report = import_roster(session, settings, text)
    for username, password in report.passwords.items():
        console.print(f"new responder {escape(username)}  password {escape(password)}")
    for line, message in report.problems:
        console.print(f"[red]line {line}:[/red] {escape(message)}")
    console.print(
        f"created {report.created}, updated {report.updated}, problems {len(report.problems)}"
    )
    if report.problems:
        raise typer.Exit(1)
