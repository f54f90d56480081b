"""One settings object for the whole system, read from KIZUNA_* environment variables."""

from __future__ import annotations

import ipaddress
import os
import secrets
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

# Settings that are secrets: each may instead be read from the file KIZUNA_<NAME>_FILE names
# (Docker and Kubernetes secrets), so it need not sit in the environment or a compose file.
SECRET_SETTINGS = (
    "secret_key",
    "database_url",
    "redis_url",
    "webpush_vapid_private_key",
    "metrics_token",
)


class SecretFilesSource(PydanticBaseSettingsSource):
    """`KIZUNA_<NAME>_FILE=/run/secrets/x` sets the secret setting NAME to that file's text."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name in SECRET_SETTINGS:
            variable = f"KIZUNA_{name.upper()}"
            path = os.environ.get(f"{variable}_FILE")
            if not path:
                continue
            if os.environ.get(variable):
                raise SettingsError(f"set {variable} or {variable}_FILE, not both")
            try:
                text = Path(path).read_text(encoding="utf-8")
            except OSError as exc:
                raise SettingsError(
                    f"{variable}_FILE: cannot read {path}: {exc.strerror}"
                ) from None
            # Editors and `echo` end files with a newline that is no part of the secret.
            values[name] = text.rstrip("\r\n")
        return values


class Settings(BaseSettings):
    """Every knob of Kizuna; built once by the app factory (or CLI) and passed down."""

    model_config = SettingsConfigDict(env_prefix="KIZUNA_", env_file=None, extra="ignore")

    data_dir: Path = Field(default=Path("var"), description="Where SQLite, keys and secrets live.")
    # Secrets (a URL may hold a password): kept out of repr, readable from KIZUNA_<NAME>_FILE.
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; unset = SQLite file in the data dir.",
        repr=False,
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis URL; set = distributed bus and Celery task runner.",
        repr=False,
    )
    secret_key: str | None = Field(
        default=None,
        description="JWT signing key; unset = generated into the data dir.",
        repr=False,
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
    # Backpressure: messages queued per live connection before the client counts as too slow
    # and is dropped (code 1013), and how long one write may take before the writer is stuck.
    ws_send_buffer: int = Field(default=64, ge=1, le=10_000)
    ws_send_timeout_s: float = Field(default=10.0, gt=0, le=300)
    # Distributed mode: a chunk of 1,000 recipients is done in well under a second, so an
    # unacknowledged task is handed to another worker after this long.
    celery_visibility_timeout_s: int = Field(default=300, ge=10)
    # A version whose fan-out is unfinished after this long is picked up again by the reconciler.
    fanout_grace_s: float = Field(default=30.0, gt=0)
    reconcile_interval_s: float = Field(default=15.0, gt=0)
    # Pause between fan-out chunks, to spare a small database during a huge fan-out.
    fanout_chunk_pause_s: float = Field(default=0.0, ge=0, le=10)
    # Two-person rule: an Actual alert is issued or updated only once a second officer of its
    # municipality approves. Unset = on when distributed (a real deployment), off when embedded.
    two_person_rule: bool | None = None
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
    log_level: str = Field(default="INFO", pattern="(?i)^(DEBUG|INFO|WARNING|ERROR|CRITICAL)$")
    # Hardening. Proxies (IPs or CIDRs) whose X-Forwarded-For / X-Forwarded-Proto we believe;
    # empty = the TCP peer is the client.
    trusted_proxies: list[str] = Field(default_factory=list)
    # Origins allowed to call the API from a browser (CORS); empty = CORS off.
    cors_origins: list[str] = Field(default_factory=list)
    # Requests per client address per fixed window on public routes; 0 = no limit. Residents
    # behind one carrier NAT share an address, so keep these generous.
    subscription_rate_limit: int = Field(default=30, ge=0)
    subscription_rate_window_s: int = Field(default=3600, ge=1, le=86_400)
    login_rate_limit: int = Field(default=60, ge=0)
    login_rate_window_s: int = Field(default=900, ge=1, le=86_400)
    # This many failed logins for one username within the failure window lock it for the
    # lockout time, whether or not the username exists.
    login_max_failures: int = Field(default=5, ge=1)
    login_failure_window_s: int = Field(default=900, ge=1, le=86_400)
    login_lockout_s: int = Field(default=900, ge=1, le=86_400)
    # argon2id cost of new password hashes (RFC 9106's low-memory choice by default); a stored
    # hash keeps the cost it was made with, so raising these affects passwords set afterwards.
    password_hash_memory_kib: int = Field(default=65_536, ge=1024, le=4_194_304)
    password_hash_time_cost: int = Field(default=3, ge=1, le=50)
    # "json": one JSON object a line (for log shippers); "text": readable lines for development.
    log_format: Literal["json", "text"] = "json"
    # Bearer token that lets a non-loopback client scrape /metrics; unset = loopback only.
    metrics_token: SecretStr | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments first, then the environment, then secrets read from KIZUNA_<NAME>_FILE."""
        return (
            init_settings,
            env_settings,
            SecretFilesSource(settings_cls),
            dotenv_settings,
            file_secret_settings,
        )

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or CIDR network") from None
        return value

    @cached_property
    def resolved_database_url(self) -> str:
        """The database URL in force: the configured one, or SQLite in the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'kizuna.db').resolve()}"

    @property
    def database_url_for_display(self) -> str:
        """The database URL in force with its password masked: the one to print or log."""
        from sqlalchemy.engine import make_url

        return make_url(self.resolved_database_url).render_as_string(hide_password=True)

    @property
    def distributed(self) -> bool:
        """True when Redis is configured: bus and background work leave the process."""
        return bool(self.redis_url)

    @property
    def two_person_required(self) -> bool:
        """Whether Actual alerts need a second officer's approval to be issued or updated."""
        if self.two_person_rule is not None:
            return self.two_person_rule
        return self.distributed

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
