"""The deployment's settings: the only configuration read from the environment."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRETS = frozenset(
    {"changethis", "changeme", "change-me", "secret", "password", "default", "xxx", "todo", "none", "null"}
)
MIN_SECRET_LENGTH = 16


class Settings(BaseSettings):
    """Where the store lives and the key that protects it. Admin choices live in the database."""

    model_config = SettingsConfigDict(env_prefix="DATADESK_", extra="ignore")

    home: Path = Field(
        default_factory=lambda: Path("~/.datadesk").expanduser(),
        description="Folder for the embedded database, key file and logs.",
    )
    database_url: str = Field(
        default="",
        description="SQLAlchemy URL of the catalog store; empty means sqlite:///$DATADESK_HOME/datadesk.db.",
    )
    secret_key: str = Field(
        default="",
        description="Encrypts stored secrets and signs sessions; empty means $DATADESK_HOME/secret.key.",
    )
    sources_dir: str = Field(
        default="",
        description="os.pathsep-separated folders SQLite, DuckDB and dbt files may live in; "
        "empty means $DATADESK_HOME/sources.",
    )
    sources_hosts: str = Field(
        default="",
        description="Comma-separated host patterns (*.internal, db1.example.com) PostgreSQL and MySQL "
        "integrations may reach; empty means any host.",
    )
    request_threads: int = Field(
        default=8,
        ge=1,
        le=1000,
        description="Threads each server process runs requests on at once; questions and SQL wait on threads "
        "of their own (datadesk.waiting).",
    )
    store_pool_size: int = Field(
        default=10,
        ge=1,
        description="Store connections each server process (each --workers worker) keeps open.",
    )
    store_pool_overflow: int = Field(
        default=50,
        ge=0,
        description="Store connections a process may open beyond store_pool_size when busy, closed after use.",
    )
    store_pool_timeout: float = Field(
        default=10.0,
        gt=0,
        description="Seconds a request waits for a free store connection before answering 503 store_busy.",
    )
    store_busy_timeout: float = Field(
        default=15.0,
        gt=0,
        description="SQLite store: seconds a write waits for another one's write lock before answering 503 store_busy.",
    )
    run_jobs: bool = Field(
        default=True,
        description="Whether `serve` also runs jobs (syncs, schedules, the prompt purge) in its own process; "
        "`datadesk serve --no-worker` sets it false, and `datadesk worker` processes run them instead.",
    )
    forwarded_allow_ips: str = Field(
        default="127.0.0.1",
        description="Comma-separated addresses or networks of the proxies trusted to set X-Forwarded-Proto "
        "and X-Forwarded-For (`datadesk serve --forwarded-allow-ips`); * trusts any client.",
    )

    @field_validator("home", mode="after")
    @classmethod
    def _expand_home(cls, home: Path) -> Path:
        return home.expanduser().resolve()

    @model_validator(mode="after")
    def _fill_defaults(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{self.home / 'datadesk.db'}"
        if not self.sources_dir.strip(os.pathsep + " "):
            self.sources_dir = str(self.home / "sources")
        if "DATADESK_SECRET_KEY" in os.environ or self.secret_key:
            check_secret(self.secret_key)
        else:
            self.secret_key = load_or_create_key(self.key_file)
        return self

    @property
    def key_file(self) -> Path:
        """Where the generated key lives (refused as a source even when DATADESK_SECRET_KEY is set)."""
        return self.home / "secret.key"

    @property
    def sources_dirs(self) -> list[Path]:
        """The sources folders, `~` expanded and symlinks resolved."""
        parts = [part.strip() for part in self.sources_dir.split(os.pathsep)]
        return [Path(part).expanduser().resolve() for part in parts if part]

    @property
    def sources_host_patterns(self) -> list[str]:
        """The allowed host patterns, lower case; empty allows any host."""
        return [part.strip().lower() for part in self.sources_hosts.split(",") if part.strip()]


def check_secret(value: str) -> None:
    """Refuse an empty, placeholder or short secret key."""
    stripped = value.strip()
    if not stripped:
        raise ValueError("DATADESK_SECRET_KEY is empty; unset it to use a generated key file")
    if stripped.lower() in PLACEHOLDER_SECRETS:
        raise ValueError("DATADESK_SECRET_KEY is a placeholder; set a long random value")
    if len(stripped) < MIN_SECRET_LENGTH:
        raise ValueError(f"DATADESK_SECRET_KEY must be at least {MIN_SECRET_LENGTH} characters")


def load_or_create_key(path: Path) -> str:
    """Read the key file, creating it with mode 0600 on first use."""
    if path.exists():
        value = path.read_text().strip()
        check_secret(value)
        return value
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    # O_EXCL: two processes starting together must not each write a different key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return load_or_create_key(path)
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    return value
