"""Settings, read from ``GPURENT_*`` environment variables.

Nothing here touches the file system at import: paths are derived when asked for.
"""

from __future__ import annotations

from pathlib import Path

from platformdirs import user_data_path
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

SQLITE_FILE_NAME = "gpurent.db"
DEMO_TOKEN_FILE_NAME = "demo-token"


class Settings(BaseSettings):
    """Every setting gpurent reads; see the configuration table in README.md."""

    model_config = SettingsConfigDict(env_prefix="GPURENT_", extra="ignore")

    data_dir: Path | None = Field(
        default=None,
        description="Where the embedded default keeps its files "
        "(default: the per-user data directory, e.g. ~/.local/share/gpurent).",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default: a SQLite file in the data directory. "
        "Use postgresql+psycopg://user@host/db for PostgreSQL.",
    )
    host: str = Field(default="127.0.0.1", description="Address `gpurent serve` listens on.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port `gpurent serve` uses.")
    log_level: str = Field(default="info", description="Server log level.")
    worker_in_server: bool = Field(
        default=True, description="Whether `gpurent serve` runs the lifecycle worker too."
    )
    lease_max_open_hours: int = Field(
        default=168, ge=1, description="How long an open-ended lease may run at most."
    )
    lease_notice_minutes: int = Field(
        default=15, ge=0, description="How long before a lease ends its before-end event fires."
    )
    worker_interval_seconds: float = Field(
        default=2.0, gt=0, description="How often the lifecycle worker looks for due work."
    )
    availability_horizon_days: int = Field(
        default=60, ge=1, description="How far ahead availability searches look."
    )
    policy_file: Path | None = Field(
        default=None, description="export-control policy (YAML); the built-in default if unset"
    )
    review_hold_hours: float = Field(
        default=48, gt=0, description="How long a lease held for review keeps its GPUs."
    )
    job_grace_seconds: float = Field(
        default=30,
        ge=0,
        description="After a lease ends, how long its jobs have between SIGTERM and SIGKILL.",
    )
    slurm_namespace: str = Field(
        default="gpurent",
        pattern=r"^[A-Za-z0-9_-]{1,32}$",
        description="Prefix of the Slurm job and reservation names this installation makes.",
    )
    screening_threshold: float = Field(
        default=0.75, gt=0, le=1, description="Name-match score from which a candidate is a match."
    )

    def resolved_data_dir(self) -> Path:
        """The data directory, created on first use."""
        path = self.data_dir if self.data_dir is not None else user_data_path("gpurent")
        path.mkdir(parents=True, exist_ok=True)
        return path

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.resolved_data_dir() / SQLITE_FILE_NAME}"

    def demo_token_path(self) -> Path:
        return self.resolved_data_dir() / DEMO_TOKEN_FILE_NAME


def load_settings() -> Settings:
    """Read the settings from the environment now (never cached at import)."""
    return Settings()
