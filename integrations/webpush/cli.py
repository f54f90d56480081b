"""`kizuna webpush ...` commands."""

from __future__ import annotations

import typer

app = typer.Typer(help="webpush integration.", no_args_is_help=True)
