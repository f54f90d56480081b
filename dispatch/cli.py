"""Commands of the dispatch capability."""

from __future__ import annotations

import typer

app = typer.Typer(help="dispatch.", no_args_is_help=True)
