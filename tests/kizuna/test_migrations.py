"""The migrations describe exactly the models, so a fresh database matches the code."""

from __future__ import annotations

from pathlib import Path

from alembic import command

from kizuna.migrate import alembic_config, upgrade
from kizuna.settings import Settings


def test_models_and_migrations_agree(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    upgrade(settings)
    # Raises if autogenerate would find any difference between the models and the database.
    command.check(alembic_config(settings))


def test_models_and_migrations_agree_on_postgresql(tmp_path: Path, postgres_url: str) -> None:
    settings = Settings(data_dir=tmp_path, database_url=postgres_url)
    upgrade(settings)
    upgrade(settings)  # a second run (another process starting) is a no-op
    command.check(alembic_config(settings))
