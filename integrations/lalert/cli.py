"""`kizuna lalert ...` commands."""

from __future__ import annotations

import typer

app = typer.Typer(help="lalert integration.", no_args_is_help=True)
