"""The local backend: jobs run on this host, each seeing only its leased GPUs. It is the
demo's backend.

When gpurent runs as root, each lease's jobs run as a Unix user of its own (see
jobs/sandbox) with a minimal environment, in a workspace no other tenant can read, and
nothing of the data directory within reach; the runner records what happened in
`RECORDS/<job id>/`, which only root can read or write. Without root, every job would run
as gpurent's own user: `may_run_customer_jobs` then refuses customers' jobs, unless the
operator opted into that unsafe mode.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from gpurent.jobs import gpus
from gpurent.jobs.backends.base import BackendError, JobSpec, Observation, read_file_from
from gpurent.jobs.sandbox import processes, workspace
from gpurent.jobs.sandbox.cgroups import JobCgroup

JOB_PATH = "/usr/local/bin:/usr/bin:/bin"


def running_as_root() -> bool:
    return os.geteuid() == 0


def may_run_customer_jobs(unsafe_same_user: bool) -> bool:
    """Whether customers' jobs may run here: sandboxed (root), or the operator said so."""
    return running_as_root() or unsafe_same_user


class LocalBackend:
    name = "local"

    def __init__(self, records: Path, workspaces: Path) -> None:
        self.records = records
        self.workspaces = workspaces

    @property
    def sandboxed(self) -> bool:
        return running_as_root()

    def job_dir(self, job_id: int) -> Path:
        """The runner's records of the job (the job itself cannot reach them)."""
        return self.records / str(job_id)

    def _working_dir(self, spec: JobSpec) -> tuple[Path, Path]:
        """The job's home and working directory, ready for its user."""
        if spec.run_as is None:
            home = self.job_dir(spec.job_id) / "work"
            home.mkdir(mode=0o700, exist_ok=True)
        else:
            closed = workspace.unreachable_ancestor(self.workspaces)
            if closed is not None:
                raise BackendError(
                    f"job users cannot reach {self.workspaces}: {closed} is closed to other "
                    "users (set GPURENT_JOB_WORKSPACE_DIR)"
                )
            home = workspace.prepare(self.workspaces, spec.lease_id, spec.job_id, spec.run_as)
        # Checked at submission too: relative, without '..'.
        return home, home / spec.workdir if spec.workdir else home

    def submit(self, spec: JobSpec) -> str:
        records = self.job_dir(spec.job_id)
        pid_file = records / "pid"
        if pid_file.exists():  # submitted before a restart: the same process
            return pid_file.read_text().strip()
        records.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            home, workdir = self._working_dir(spec)
        except OSError as exc:
            raise BackendError(f"cannot prepare the job's directory: {exc}") from exc
        env = {
            **spec.env,
            "CUDA_VISIBLE_DEVICES": ",".join(str(i) for i in spec.gpu_indices),
            "GPURENT_JOB_ID": str(spec.job_id),
            "GPURENT_LEASE_ID": str(spec.lease_id),
            "HOME": str(home),
            "PATH": JOB_PATH,
        }
        plan = {
            "job_id": spec.job_id,
            "command": spec.command,
            "env": env,
            "uid": spec.run_as,
            "workdir": str(workdir),
            "gpu_minors": gpus.device_minors(spec.gpu_indices),
        }
        (records / "plan.json").write_text(json.dumps(plan))
        runner = [sys.executable, "-m", "gpurent.jobs.backends.local_runner", str(records)]
        try:
            process = subprocess.Popen(
                runner,
                cwd=records,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # outlives the worker; no signal of the worker's reaches it
            )
        except OSError as exc:
            raise BackendError(f"cannot start the job: {exc}") from exc
        ref = f"{process.pid}@{processes.start_time(process.pid)}"
        pid_file.write_text(ref)
        return ref

    def observe(self, spec: JobSpec, ref: str) -> Observation:
        records = self.job_dir(spec.job_id)
        result = records / "result.json"
        if result.exists():
            data = json.loads(result.read_text())
            seconds = math.ceil(float(data["wall_seconds"]))
            return Observation(
                running=False,
                finished=True,
                exit_code=int(data["exit_code"]),
                started_at=datetime.fromisoformat(data["started_at"]),
                ended_at=datetime.fromisoformat(data["ended_at"]),
                gpu_seconds=seconds * len(spec.gpu_indices),
                source="process accounting",
                detail=data,
            )
        runner = _runner(ref)
        if runner is not None and processes.alive(runner):
            return Observation(running=True, finished=False)
        if result.exists():  # it finished between the two looks
            return self.observe(spec, ref)
        return self._runner_lost(spec, records)

    def _runner_lost(self, spec: JobSpec, records: Path) -> Observation:
        """The runner died before its record: what is left of the job is killed, and the
        time is counted from its start to now (never from anything the job wrote)."""
        self._kill_job(records, None)
        now = datetime.now(UTC)
        try:
            started = datetime.fromisoformat(
                json.loads((records / "started.json").read_text())["started_at"]
            )
        except (OSError, ValueError, KeyError):
            started = None
        seconds = math.ceil((now - started).total_seconds()) if started else 0
        return Observation(
            running=False,
            finished=True,
            exit_code=None,
            started_at=started,
            ended_at=now,
            gpu_seconds=seconds * len(spec.gpu_indices),
            source="runner clock",
            detail={"error": "the job's runner vanished without a result"},
        )

    def _kill_job(self, records: Path, runner: int | None) -> None:
        cgroup = JobCgroup.load(records / "cgroup.json")
        if cgroup is not None:
            cgroup.kill()

        def remaining() -> set[int]:
            found = cgroup.pids() if cgroup is not None else set()
            return found | (processes.descendants(runner) if runner else set())

        processes.kill_until_gone(remaining)

    def signal(self, spec: JobSpec, ref: str, hard: bool) -> None:
        """Soft: the runner passes SIGTERM on to every process of the job. Hard: every
        process of the job is killed, the runner kept, so that it still records the end."""
        runner = _runner(ref)
        if not hard:
            if runner is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(runner, signal.SIGTERM)
            return
        self._kill_job(self.job_dir(spec.job_id), runner)

    def read_log(self, spec: JobSpec, offset: int) -> tuple[str, int]:
        return read_file_from(self.job_dir(spec.job_id) / "output.log", offset)

    def sweep_user(self, uid: int) -> bool:
        """Kill every process of the job user, however it detached. True when none is left."""
        return processes.kill_until_gone(lambda: processes.pids_of_user(uid))

    def lock_workspace(self, lease_id: int) -> None:
        workspace.lock(self.workspaces, lease_id)

    def remove_workspace(self, lease_id: int) -> None:
        workspace.remove(self.workspaces, lease_id)


def _runner(ref: str) -> int | None:
    """The runner's pid, if the process of that pid is still the runner ("pid@start")."""
    pid, _, started = ref.partition("@")
    if not pid.isdigit():
        return None
    if started and str(processes.start_time(int(pid))) != started:
        return None  # gone, and its pid perhaps reused: never signal a stranger
    return int(pid)
