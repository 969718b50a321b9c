"""Execution backends behind one small interface (base.Backend)."""

from __future__ import annotations

from gpurent.config import Settings
from gpurent.jobs.backends.base import Backend
from gpurent.jobs.backends.local import LocalBackend
from gpurent.jobs.backends.slurm import SlurmBackend, output_dir


def backends_for(settings: Settings) -> dict[str, Backend]:
    """Every backend, by the name a facility's `backend` gives."""
    return {
        "local": LocalBackend(settings.job_records_dir(), settings.resolved_job_workspace_dir()),
        "slurm": SlurmBackend(settings.slurm_namespace, output=output_dir(settings)),
    }
