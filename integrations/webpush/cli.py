"""`kizuna webpush ...` commands."""

from __future__ import annotations

import typer

from integrations.webpush.keys import load_or_create
from kizuna.settings import Settings

app = typer.Typer(help="Web Push to residents' phones.", no_args_is_help=True)


@app.command("keys")
def keys() -> None:
    """Print the VAPID public key, creating the key pair in the data dir if it is missing."""
    settings = Settings()
    pair, created = load_or_create(settings.data_dir)
    if created:
        # On stderr, so `$(kizuna webpush keys)` captures only the key.
        typer.echo(f"created a new VAPID key pair in {pair.path} (mode 0600)", err=True)
    typer.echo(pair.public_key)
