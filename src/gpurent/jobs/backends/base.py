"""What every execution backend does. A backend is called outside any database
transaction; a backend that is down raises BackendError, and the job waits or fails with
that reason, never touching lease state.

A Kubernetes backend would map onto the same five calls: submit creates a Pod (or a Job)
on the lease's node (nodeName or a node affinity), requesting `nvidia.com/gpu: N` with the
device plugin told which devices (or a CDI spec naming the leased GPUs) and
activeDeadlineSeconds at the lease's end; poll reads the Pod's phase and container exit
code; logs reads the container log (with `sinceBytes`-like offsets); stop deletes the Pod
with a grace period; usage comes from the Pod's start and finish times x GPUs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol


class BackendError(RuntimeError):
    """The backend could not be reached or refused the call."""


@dataclass(frozen=True)
class JobSpec:
    job_id: int
    lease_id: int
    command: list[str]
    env: dict[str, str]
    workdir: str | None
    node: str
    gpu_indices: list[int]
    log_path: Path
    reservation: str | None = None  # Slurm: a whole-node lease's reservation
    image: str | None = None
    run_as: int | None = None  # local, sandboxed: the lease's job user (uid = gid)
    slurm_user: str | None = None  # Slurm: the organization's Unix user on the cluster
    slurm_account: str | None = None  # Slurm: its account (None with no user: gpurent's own)


@dataclass(frozen=True)
class Observation:
    """What the backend knows of a job now."""

    running: bool
    finished: bool
    exit_code: int | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    gpu_seconds: int | None = None  # from the backend's own accounting, when finished
    source: str = ""
    detail: dict[str, object] = field(default_factory=dict)


class Backend(Protocol):
    name: str

    def submit(self, spec: JobSpec) -> str:
        """Start the job; returns the backend's reference. Safe to call again for a job
        already submitted (returns the same reference)."""
        ...

    def observe(self, spec: JobSpec, ref: str) -> Observation: ...

    def signal(self, spec: JobSpec, ref: str, hard: bool) -> None:
        """Ask the job to stop (SIGTERM), or (hard) kill it."""
        ...

    def read_log(self, spec: JobSpec, offset: int) -> tuple[str, int]: ...


def read_file_from(path: Path, offset: int) -> tuple[str, int]:
    """Up to 1 MiB of a job's log from `offset`, and the offset after it."""
    if not path.exists():
        return "", offset
    with path.open("rb") as f:
        f.seek(offset)
        data = f.read(1 << 20)
    return data.decode("utf-8", errors="replace"), offset + len(data)
