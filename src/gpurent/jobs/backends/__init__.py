"""Execution backends behind one small interface (base.Backend)."""

from __future__ import annotations

from gpurent.config import Settings
from gpurent.jobs.backends.base import Backend
from gpurent.jobs.backends.local import LocalBackend
from gpurent.jobs.backends.slurm import SlurmBackend


def backends_for(settings: Settings) -> dict[str, Backend]:
    """Every backend, by the name a facility's `backend` gives."""
    return {
        "local": LocalBackend(settings.resolved_data_dir() / "jobs"),
        "slurm": SlurmBackend(settings.slurm_namespace),
    }
