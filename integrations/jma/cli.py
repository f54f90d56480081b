"""`kizuna jma ...` commands."""

from __future__ import annotations

import typer

app = typer.Typer(help="jma integration.", no_args_is_help=True)
