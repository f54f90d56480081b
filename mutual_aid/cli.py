"""Commands of the mutual_aid capability."""

from __future__ import annotations

import typer

app = typer.Typer(help="mutual_aid.", no_args_is_help=True)
