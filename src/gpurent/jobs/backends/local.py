"""The local backend: jobs run on this host, each in its own process group, seeing only
the leased GPUs (CUDA_VISIBLE_DEVICES). It is the demo's backend."""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from gpurent.jobs.backends.base import BackendError, JobSpec, Observation, read_file_from


class LocalBackend:
    name = "local"

    def __init__(self, root: Path) -> None:
        self.root = root

    def job_dir(self, job_id: int) -> Path:
        return self.root / str(job_id)

    def submit(self, spec: JobSpec) -> str:
        job_dir = self.job_dir(spec.job_id)
        pid_file = job_dir / "pid"
        if pid_file.exists():  # submitted before a restart: the same process
            return pid_file.read_text().strip()
        job_dir.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            **spec.env,
            "CUDA_VISIBLE_DEVICES": ",".join(str(i) for i in spec.gpu_indices),
            "GPURENT_JOB_ID": str(spec.job_id),
            "GPURENT_LEASE_ID": str(spec.lease_id),
        }
        runner = [sys.executable, "-m", "gpurent.jobs.backends.local_runner", str(job_dir)]
        try:
            process = subprocess.Popen(
                [*runner, "--", *spec.command],
                cwd=spec.workdir or job_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # its own process group, outliving the worker
            )
        except OSError as exc:
            raise BackendError(f"cannot start the job: {exc}") from exc
        pid_file.write_text(str(process.pid))
        return str(process.pid)

    def observe(self, spec: JobSpec, ref: str) -> Observation:
        result = self.job_dir(spec.job_id) / "result.json"
        if result.exists():
            data = json.loads(result.read_text())
            started = datetime.fromisoformat(data["started_at"])
            ended = datetime.fromisoformat(data["ended_at"])
            seconds = math.ceil(float(data["wall_seconds"]))
            return Observation(
                running=False,
                finished=True,
                exit_code=int(data["exit_code"]),
                started_at=started,
                ended_at=ended,
                gpu_seconds=seconds * len(spec.gpu_indices),
                source="process accounting",
                detail=data,
            )
        if _alive(int(ref)):
            return Observation(running=True, finished=False)
        return Observation(
            running=False,
            finished=True,
            exit_code=None,
            source="local",
            detail={"error": "the job's runner vanished without a result"},
        )

    def signal(self, spec: JobSpec, ref: str, hard: bool) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(int(ref), signal.SIGKILL if hard else signal.SIGTERM)

    def read_log(self, spec: JobSpec, offset: int) -> tuple[str, int]:
        return read_file_from(self.job_dir(spec.job_id) / "output.log", offset)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A finished child of this very process is a zombie until reaped.
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return done == 0
