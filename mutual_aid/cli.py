"""Commands of mutual aid: run the timers by hand, see how requests stand."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from kizuna.runtime import Runtime

app = typer.Typer(help="Mutual aid (共助): requests, volunteers, claims.", no_args_is_help=True)


def _runtime() -> Runtime:
    from kizuna.runtime import build_runtime
    from kizuna.settings import Settings

    return build_runtime(Settings())


@app.command("release-stale")
def release_stale() -> None:
    """Put claims left unstarted for 30 minutes back in the pool."""
    from mutual_aid import tasks

    runtime = _runtime()
    try:
        typer.echo(f"released {tasks.release_stale(runtime)} stale claims")
    finally:
        runtime.close()


@app.command()
def purge() -> None:
    """Close requests older than 30 days and erase their contact, place and description."""
    from mutual_aid import tasks

    runtime = _runtime()
    try:
        typer.echo(f"purged {tasks.purge(runtime)} requests")
    finally:
        runtime.close()


@app.command()
def status() -> None:
    """Requests by state."""
    from mutual_aid import service

    runtime = _runtime()
    try:
        with runtime.db.session() as session:
            for state, count in sorted(service.counts(session).items()):
                typer.echo(f"{state}\t{count}")
    finally:
        runtime.close()
