"""`kizuna cap ...` commands."""

from __future__ import annotations

import typer

app = typer.Typer(help="cap integration.", no_args_is_help=True)
