"""Apply the Alembic migrations shipped inside the package."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from kizuna.settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"
# Several `kizuna serve` processes start together in a deployment; one migrates, the rest wait.
MIGRATION_LOCK_KEY = 0x4B495A554E41


def alembic_config(settings: Settings) -> Config:
    """An Alembic config pointing at our migrations and the settings' database."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", settings.resolved_database_url.replace("%", "%%"))
    return config


def upgrade(settings: Settings, revision: str = "heads") -> None:
    """Bring the database up to `revision` (the newest by default)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    config = alembic_config(settings)
    url = settings.resolved_database_url
    if not url.startswith("postgresql"):
        command.upgrade(config, revision)
        return
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            try:
                config.attributes["connection"] = connection
                command.upgrade(config, revision)
                connection.commit()
            finally:
                connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY}
                )
                connection.commit()
    finally:
        engine.dispose()
