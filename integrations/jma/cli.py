"""`kizuna jma ...` commands: ingest telegram files, poll JMA's Atom feed."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from kizuna.settings import Settings

if TYPE_CHECKING:
    from kizuna.db import Database

app = typer.Typer(help="JMA 防災情報XML: telegrams in, alerts out.", no_args_is_help=True)
console = Console()


def _database(settings: Settings) -> Database:
    from kizuna.db import Database
    from kizuna.migrate import upgrade

    upgrade(settings)
    return Database(settings.resolved_database_url)


@app.command("ingest")
def ingest_files(
    files: Annotated[
        list[Path], typer.Argument(help="Telegram files (XML).", exists=True, dir_okay=False)
    ],
) -> None:
    """Make alerts from telegram files; each file on its own, a bad one does not stop the rest."""
    from integrations.jma.service import ingest
    from kizuna.errors import KizunaError

    settings = Settings()
    database = _database(settings)
    refused = 0
    try:
        for file in files:
            try:
                with database.session() as session:
                    result = ingest(session, settings, file.read_bytes())
            except KizunaError as exc:
                refused += 1
                where = f" ({exc.field})" if exc.field else ""
                console.print(f"[red]refused[/red] {file}: {exc.message}{where}")
                continue
            if result.skipped:
                console.print(
                    f"[yellow]skipped[/yellow] {file}: {result.skipped} — {result.reason}"
                )
                continue
            outcomes = ", ".join(sorted({alert.outcome for alert in result.alerts}) or ["no alert"])
            console.print(
                f"[green]ingested[/green] {file}: {result.type_code} {result.type_name} "
                f"{result.info_type} → {len(result.alerts)} alerts ({outcomes}); "
                f"{len(result.not_served)} municipalities not served"
            )
            for area in result.unmapped_areas:
                console.print(f"  [yellow]unmapped[/yellow] {area}")
    finally:
        database.dispose()
    if refused:
        raise typer.Exit(code=1)


@app.command("poll")
def poll(
    feed: Annotated[str, typer.Option(help="Atom feed URL, e.g. JMA's extra.xml or eqvol.xml.")],
    interval: Annotated[float, typer.Option(help="Seconds between polls.", min=1)] = 60,
    once: Annotated[bool, typer.Option("--once", help="Poll one time and exit.")] = False,
) -> None:
    """Pull the feed: conditional GET, each new entry fetched and ingested once."""
    from integrations.jma.poller import PollReport, run

    settings = Settings()
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    database = _database(settings)

    def show(report: PollReport) -> None:
        if report.not_modified:
            console.print("feed not modified")
            return
        console.print(
            f"imported {len(report.imported)} ({report.alerts} alerts), skipped "
            f"{len(report.skipped)}, refused {len(report.refused)}, retry {len(report.retry)}"
        )

    try:
        report = run(database, settings, feed, interval, once=once, on_report=show)
    finally:
        database.dispose()
    if once and report is None:
        raise typer.Exit(code=1)
