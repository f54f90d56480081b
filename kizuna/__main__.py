"""`python -m kizuna` runs the CLI."""

from kizuna.cli import app

app()
