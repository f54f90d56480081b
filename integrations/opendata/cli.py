"""`kizuna shelters import` and `import-snapshots`: published shelter files into the registry."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from integrations.opendata.formats import FIELDS, make_options
from integrations.opendata.service import FileImport, import_file
from kizuna.errors import KizunaError
from kizuna.settings import Settings
from shelters.records import RowProblem

app = typer.Typer(
    help="Shelters from open data: GSI, 自治体標準オープンデータセット, municipal CSV, GeoJSON.",
    no_args_is_help=True,
)
console = Console()
SHOWN = 50  # problems printed per kind; the rest are counted

FileArgument = Annotated[
    Path,
    typer.Argument(help="CSV (UTF-8 or Shift_JIS) or GeoJSON file.", exists=True, dir_okay=False),
]
MunicipalityOption = Annotated[
    str | None,
    typer.Option(help="全国地方公共団体コード for rows that state none (5 or 6 digits)."),
]
MapOption = Annotated[
    list[str] | None,
    typer.Option(
        "--map",
        help=f"SOURCE_COLUMN=FIELD, repeatable; fields: {', '.join(FIELDS)}.",
    ),
]
CrsOption = Annotated[
    str | None, typer.Option(help="CRS of X/Y columns (or of a GeoJSON without one): EPSG:6675.")
]
ActorOption = Annotated[str, typer.Option(help="Name recorded as the author of the changes.")]


@app.command("import")
def import_command(
    file: FileArgument,
    municipality: MunicipalityOption = None,
    column_map: MapOption = None,
    kind: Annotated[
        str | None,
        typer.Option(help="evacuation_site, shelter or welfare_shelter for every row."),
    ] = None,
    crs: CrsOption = None,
    actor: ActorOption = "cli",
) -> None:
    """Create or update shelters from a file; a status file also stores its snapshots."""
    _run(file, municipality, column_map, kind, crs, actor, snapshots_only=False)


@app.command("import-snapshots")
def import_snapshots_command(
    file: FileArgument,
    municipality: MunicipalityOption = None,
    column_map: MapOption = None,
    crs: CrsOption = None,
    actor: ActorOption = "cli",
) -> None:
    """Store a published status file (evacuees per shelter at a time) as history points."""
    _run(file, municipality, column_map, None, crs, actor, snapshots_only=True)


def _run(
    file: Path,
    municipality: str | None,
    column_map: list[str] | None,
    kind: str | None,
    crs: str | None,
    actor: str,
    snapshots_only: bool,
) -> None:
    from kizuna.db import Database
    from kizuna.migrate import upgrade

    settings = Settings()
    database: Database | None = None
    try:
        options = make_options(municipality, column_map or [], kind, crs, file.name)
        upgrade(settings)
        database = Database(settings.resolved_database_url)
        with (
            Progress(
                TextColumn(f"importing {file.name}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
                transient=True,
            ) as progress,
            database.session() as session,
        ):
            task = progress.add_task("import", total=None)
            result = import_file(
                session,
                file.read_bytes(),
                options,
                actor,
                snapshots_only=snapshots_only,
                progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
    except KizunaError as exc:
        console.print(
            f"[red]refused:[/red] {exc.message}" + (f" ({exc.field})" if exc.field else "")
        )
        raise typer.Exit(code=2) from None
    finally:
        if database is not None:
            database.dispose()
    _print(result)
    if result.errors:
        raise typer.Exit(code=1)


def _print(result: FileImport) -> None:
    table = Table(title=f"{result.format} ({result.encoding})")
    columns = ("created", "updated", "unchanged", "history points", "already stored")
    for column in (*columns, "errors", "warnings"):
        table.add_column(column, justify="right")
    table.add_row(
        *map(
            str,
            (
                result.created,
                result.updated,
                result.unchanged,
                result.history_points,
                result.history_unchanged,
                len(result.errors),
                len(result.warnings),
            ),
        )
    )
    console.print(table)
    _problems("error", "red", result.errors)
    _problems("warning", "yellow", result.warnings)


def _problems(label: str, colour: str, problems: list[RowProblem]) -> None:
    for problem in problems[:SHOWN]:
        console.print(
            f"  [{colour}]{label}[/{colour}] line {problem.line}: {escape(problem.reason)}"
        )
    if len(problems) > SHOWN:
        console.print(f"  … and {len(problems) - SHOWN} more {label}s")
