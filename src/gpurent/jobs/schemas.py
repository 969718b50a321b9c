from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gpurent.jobs.models import Job


class JobIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    command: list[str] = Field(min_length=1, description="argv, not a shell line")
    env: dict[str, str] = Field(default_factory=dict)
    gpus: int = Field(ge=1, le=4096)
    workdir: str | None = None
    image: str | None = Field(default=None, description="container image (backends that run them)")


class JobOut(BaseModel):
    id: int
    lease_id: int
    command: list[str]
    gpus: int
    node: str
    gpu_indices: list[int]
    backend: str
    backend_ref: str | None
    status: str
    exit_code: int | None
    reason: str | None
    submitted_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    gpu_seconds: int
    gpu_samples: list[dict[str, Any]] | None = Field(
        description="NVML utilization and memory of its GPUs; null where NVML is absent"
    )

    @staticmethod
    def of(job: Job, gpu_seconds: int, samples: list[dict[str, Any]] | None) -> JobOut:
        return JobOut(
            id=job.id,
            lease_id=job.lease_id,
            command=list(job.command or []),  # a damaged row still shows
            gpus=job.gpus,
            node=job.node,
            gpu_indices=list(job.gpu_indices or []),
            backend=job.backend,
            backend_ref=job.backend_ref,
            status=job.status.value,
            exit_code=job.exit_code,
            reason=job.reason,
            submitted_at=job.submitted_at,
            started_at=job.started_at,
            ended_at=job.ended_at,
            gpu_seconds=gpu_seconds,
            gpu_samples=samples,
        )


class LogChunk(BaseModel):
    text: str
    offset: int = Field(description="pass it back to read on from here")
    finished: bool
