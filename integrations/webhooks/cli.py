"""`kizuna webhooks ...` commands: resume overdue deliveries, sign a body for receiver tests."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help="Webhooks: alerts POSTed, signed, to media and other systems.", no_args_is_help=True
)


@app.command()
def resume() -> None:
    """Submit again every webhook delivery whose retry is overdue (after a restart, say)."""
    from integrations.webhooks.delivery import resume as resume_deliveries
    from kizuna.migrate import upgrade
    from kizuna.runtime import build_runtime
    from kizuna.settings import Settings
    from kizuna.tasks import InProcessTaskRunner

    settings = Settings()
    upgrade(settings)
    runtime = build_runtime(settings)
    try:
        count = resume_deliveries(runtime)
        if isinstance(runtime.tasks, InProcessTaskRunner):
            # Embedded mode: the attempts run here; later retries are left for the next resume.
            runtime.tasks.wait_idle(timeout=120)
    finally:
        runtime.close()
    typer.echo(f"resumed {count} overdue deliveries")


@app.command()
def sign(
    body: Annotated[
        Path, typer.Argument(help="File holding the exact request body.", dir_okay=False)
    ],
    secret: Annotated[str, typer.Option(help="The webhook's secret.", envvar="WEBHOOK_SECRET")],
    timestamp: Annotated[int | None, typer.Option(help="Unix seconds; default now.")] = None,
) -> None:
    """Print the headers Kizuna would send with a body, to test a receiver with curl."""
    from integrations.webhooks.signing import signature_header

    moment = int(time.time()) if timestamp is None else timestamp
    try:
        data = body.read_bytes()
    except OSError as exc:
        typer.echo(f"error: cannot read {body}: {exc.strerror}", err=True)
        raise typer.Exit(code=2) from None
    typer.echo(f"X-Kizuna-Timestamp: {moment}")
    typer.echo(f"X-Kizuna-Signature: {signature_header(secret, moment, data)}")
