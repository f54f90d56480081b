"""One settings object for the whole system, read from KIZUNA_* environment variables."""

from __future__ import annotations

import secrets
from functools import cached_property
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of Kizuna; built once by the app factory (or CLI) and passed down."""

    model_config = SettingsConfigDict(env_prefix="KIZUNA_", env_file=None, extra="ignore")

    data_dir: Path = Field(default=Path("var"), description="Where SQLite, keys and secrets live.")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; unset = SQLite file in the data dir."
    )
    redis_url: str | None = Field(
        default=None, description="Redis URL; set = distributed bus and Celery task runner."
    )
    secret_key: str | None = Field(
        default=None, description="JWT signing key; unset = generated into the data dir."
    )
    jwt_ttl_minutes: int = Field(default=60, ge=1, le=24 * 60)
    fanout_chunk_size: int = Field(default=1000, ge=1, le=100_000)
    expiry_check_interval_s: float = Field(default=30.0, gt=0)
    outbox_poll_interval_s: float = Field(default=2.0, gt=0)
    # An area may stick out of the officer's municipalities by this share of its own area:
    # hand-drawn polygons along a boundary are never exact.
    area_outside_tolerance: float = Field(default=0.01, ge=0, le=0.5)
    max_request_bytes: int = Field(default=2_000_000, ge=1024)
    cap_sender_domain: str = Field(default="kizuna.local", description="Domain in CAP <sender>.")
    delivery_sweep_interval_s: float = Field(default=5.0, gt=0)
    # Distributed mode: a chunk of 1,000 recipients is done in well under a second, so an
    # unacknowledged task is handed to another worker after this long.
    celery_visibility_timeout_s: int = Field(default=300, ge=10)
    # A version whose fan-out is unfinished after this long is picked up again by the reconciler.
    fanout_grace_s: float = Field(default=30.0, gt=0)
    reconcile_interval_s: float = Field(default=15.0, gt=0)
    # Pause between fan-out chunks, to spare a small database during a huge fan-out.
    fanout_chunk_pause_s: float = Field(default=0.0, ge=0, le=10)
    # "production" refuses webhook targets in private ranges and push endpoints without https.
    environment: str = Field(default="development", pattern="^(development|production)$")
    # Integrations: messages from these senders are issued at once instead of kept as drafts.
    cap_trusted_senders: list[str] = Field(default_factory=list)
    lalert_trusted_senders: list[str] = Field(default_factory=list)
    jma_auto_issue: bool = False
    max_xml_bytes: int = Field(default=5_000_000, ge=1024)
    webpush_vapid_subject: str = "mailto:bousai@kizuna.local"
    # The VAPID private key (PKCS#8 PEM); unset = generated once into the data dir. Every
    # process (API replicas, workers) must sign with the one key browsers know: set it when
    # distributed.
    webpush_vapid_private_key: SecretStr | None = None
    # Tests run a push service on 127.0.0.1 over plain http; nothing else may.
    webpush_allow_loopback_http: bool = False
    public_base_url: str = "http://127.0.0.1:8000"
    # Leaflet tile URL template for the web maps; unset = blank maps, no outside network.
    map_tile_url: str | None = None
    map_attribution: str = ""
    # Test hook only: "after_outbox_commit" kills the process right after a commit that queued
    # events, before the relay can publish them (to prove the relay recovers on restart).
    crash_point: str | None = None
    log_level: str = "INFO"

    @cached_property
    def resolved_database_url(self) -> str:
        """The database URL in force: the configured one, or SQLite in the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'kizuna.db').resolve()}"

    @property
    def distributed(self) -> bool:
        """True when Redis is configured: bus and background work leave the process."""
        return bool(self.redis_url)

    def resolved_secret_key(self) -> str:
        """The JWT key: the configured one, or one generated once into the data dir."""
        if self.secret_key:
            return self.secret_key
        key_file = self.data_dir / "secret_key"
        if key_file.exists():
            return key_file.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        # Exclusive create: two processes starting together must agree on one key.
        try:
            with open(key_file, "x") as handle:
                handle.write(key)
            key_file.chmod(0o600)
        except FileExistsError:
            return key_file.read_text().strip()
        return key
