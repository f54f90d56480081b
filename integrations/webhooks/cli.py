"""`kizuna webhooks ...` commands."""

from __future__ import annotations

import typer

app = typer.Typer(help="webhooks integration.", no_args_is_help=True)
