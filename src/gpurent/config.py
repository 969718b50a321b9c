"""Settings, read from ``GPURENT_*`` environment variables.

Nothing here touches the file system at import: paths are derived when asked for.
"""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_data_path
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

SQLITE_FILE_NAME = "gpurent.db"
DEMO_TOKEN_FILE_NAME = "demo-token"
AUDIT_KEY_FILE_NAME = "audit.key"
AUDIT_CHECKPOINT_NAME = "audit-checkpoint.json"


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
    lease_max_hours: int = Field(
        default=9600, ge=1, le=1_000_000, description="The longest window a lease may have."
    )
    lease_min_minutes: int = Field(
        default=1,
        ge=0,
        le=1440,
        description="The shortest window a lease or quote may have (0: any that is not empty).",
    )
    lease_max_months: int = Field(
        default=60, ge=1, le=60, description="The longest reserved term, in months."
    )
    lease_max_advance_days: int = Field(
        default=3650, ge=1, le=36500, description="How far ahead a lease may start."
    )
    max_body_bytes: int = Field(
        default=1_048_576, ge=1024, description="The largest request body the API accepts."
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
    review_sla_hours: float = Field(
        default=24, gt=0, description="How long a compliance officer has to decide a review."
    )
    job_grace_seconds: float = Field(
        default=30,
        ge=0,
        description="After a lease ends, how long its jobs have between SIGTERM and SIGKILL.",
    )
    job_uid_range: str = Field(
        default="3000000-3000999",
        pattern=r"^[1-9][0-9]{3,9}-[1-9][0-9]{3,9}$",
        description="Unix uids (and gids) for the local backend's job users, one per lease, "
        "when gpurent runs as root; none may belong to an account of the host.",
    )
    job_workspace_dir: Path | None = Field(
        default=None,
        description="Where the local backend's job workspaces live (default: "
        "/var/lib/gpurent-jobs as root, else DATA_DIR/workspaces); every directory above it "
        "must be passable by other users.",
    )
    job_retention_hours: float = Field(
        default=24, ge=0, description="How long a lease's job workspace is kept after it ends."
    )
    unsafe_local_customer_jobs: bool = Field(
        default=False,
        description="UNSAFE for untrusted renters: let the local backend run customers' jobs "
        "as gpurent's own user when it is not root (no sandbox).",
    )
    slurm_namespace: str = Field(
        default="gpurent",
        pattern=r"^[A-Za-z0-9_-]{1,32}$",
        description="Prefix of the Slurm job and reservation names this installation makes.",
    )
    slurm_output_dir: Path | None = Field(
        default=None,
        description="Where Slurm jobs write their output, a directory per job owned by its "
        "user (a path the cluster's nodes share; default: /var/lib/gpurent-slurm as root).",
    )
    screening_threshold: float = Field(
        default=0.75, gt=0, le=1, description="Name-match score from which a candidate is a match."
    )
    audit_key: SecretStr | None = Field(
        default=None,
        min_length=32,
        description="Key of the audit log's MACs (32+ characters; default: a random key kept "
        "in DATA_DIR/audit.key, 0600). Every process writing one database needs the same.",
    )
    audit_checkpoint_file: Path | None = Field(
        default=None,
        description="The audit log's checkpoint, outside the database "
        "(default: DATA_DIR/audit-checkpoint.json).",
    )

    def resolved_data_dir(self) -> Path:
        """The data directory, created on first use."""
        path = self.data_dir if self.data_dir is not None else user_data_path("gpurent")
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        if path.stat().st_mode & 0o077 and path.stat().st_uid == os.geteuid():
            path.chmod(0o700)  # it holds the database, tokens and keys: never shared
        return path

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.resolved_data_dir() / SQLITE_FILE_NAME}"

    def job_records_dir(self) -> Path:
        """The local backend's records of each job (logs, results): inside the data dir."""
        return self.resolved_data_dir() / "jobs"

    def resolved_job_workspace_dir(self) -> Path:
        if self.job_workspace_dir is not None:
            return self.job_workspace_dir
        if os.geteuid() == 0:
            return Path("/var/lib/gpurent-jobs")
        return self.resolved_data_dir() / "workspaces"

    def audit_key_path(self) -> Path:
        return self.resolved_data_dir() / AUDIT_KEY_FILE_NAME

    def audit_checkpoint_path(self) -> Path:
        return self.audit_checkpoint_file or self.resolved_data_dir() / AUDIT_CHECKPOINT_NAME

    def demo_token_path(self) -> Path:
        return self.resolved_data_dir() / DEMO_TOKEN_FILE_NAME


def load_settings() -> Settings:
    """Read the settings from the environment now (never cached at import)."""
    return Settings()
