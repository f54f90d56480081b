"""`kizuna lalert ...` commands: import L-Alert (公共情報コモンズ) messages from files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from kizuna.settings import Settings

app = typer.Typer(help="L-Alert (公共情報コモンズ) XML.", no_args_is_help=True)
# One line per file, never wrapped: operators grep and script this output.
console = Console(soft_wrap=True, highlight=False)


@app.command("import")
def import_files(
    files: Annotated[
        list[Path],
        typer.Argument(help="L-Alert XML messages (bare or SOAP-wrapped).", dir_okay=False),
    ],
    trusted: Annotated[
        bool, typer.Option("--trusted", help="Issue at once whatever the sender.")
    ] = False,
) -> None:
    """Import messages as alerts, each in its own transaction, acting as system-lalert.

    Drafts unless --trusted or the sender is in KIZUNA_LALERT_TRUSTED_SENDERS. Exits 2 when
    any file was refused; skipped messages (shelter, other categories) are not failures.
    """
    from alerts import system_user
    from integrations.lalert.service import import_xml
    from integrations.xml import check_size
    from kizuna.db import Database
    from kizuna.errors import KizunaError
    from kizuna.migrate import upgrade

    settings = Settings()
    upgrade(settings)
    database = Database(settings.resolved_database_url)
    failed = 0
    try:
        for path in files:
            shown = escape(str(path))
            try:
                if not path.is_file():
                    raise FileNotFoundError(f"no such file: {path}")
                check_size(path.stat().st_size, settings.max_xml_bytes)
                data = path.read_bytes()
                with database.session() as session:
                    actor = system_user(session, "lalert")
                    result = import_xml(session, settings, actor, data, force_trusted=trusted)
            except (KizunaError, OSError) as exc:
                failed += 1
                message = exc.message if isinstance(exc, KizunaError) else str(exc)
                where = f" ({exc.field})" if isinstance(exc, KizunaError) and exc.field else ""
                console.print(f"[red]refused[/red] {shown}: {escape(message)}{escape(where)}")
                continue
            if result.outcome == "skipped":
                console.print(f"[yellow]skipped[/yellow] {shown}: {escape(result.reason or '')}")
                continue
            console.print(
                f"{result.outcome} {shown}: alert {result.alert_id} "
                f"(municipality {result.municipality_code}, level {result.evacuation_level}, "
                f"{result.msg_type}, {result.identifier})"
            )
    finally:
        database.dispose()
    if failed:
        raise typer.Exit(code=2)
