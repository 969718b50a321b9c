"""The Slurm backend: a facility that is a Slurm cluster.

Whole-node leases become Slurm reservations (`scontrol create|update|delete
reservation`), and their jobs run with `--reservation`. Slurm 22.05 cannot reserve part
of a node's GPUs, so a partial-node lease has no reservation: its jobs go to the leased
node with `--nodelist=NODE --gres=gpu:N`, and gpurent, the only party submitting to its
nodes, keeps the GPU count within the lease. Jobs are followed with `squeue`, then
`sacct` (GPU-seconds: the gres/gpu count of AllocTRES x ElapsedRaw), and stopped with
`scancel`.

A customer's job runs as its organization's own Unix user and Slurm account on the
cluster (`sbatch --uid --gid --account`, which needs gpurent to run as root), so that
Slurm's permissions and accounting keep tenants apart; the operator's jobs without a
mapping run as gpurent's own user. Every job gets a directory of its own under the
output root (slurm_output.py), a minimal environment (its variables, HOME, PATH and
GPURENT_JOB_ID / GPURENT_LEASE_ID; Slurm adds its SLURM_* and CUDA_VISIBLE_DEVICES),
none of gpurent's own.
"""

from __future__ import annotations

import os
import pwd
import re
import shlex
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from gpurent.config import Settings
from gpurent.jobs.backends import slurm_output
from gpurent.jobs.backends.base import BackendError, JobSpec, Observation, read_file_from

TIMEOUT = 30
_GPU_TRES = re.compile(r"gres/gpu(?::[^=,]+)?=(\d+)")
RUNNING_STATES = {"PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED", "REQUEUED"}
JOB_PATH = "/usr/local/bin:/usr/bin:/bin"
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SLURM_SETS = frozenset({"CUDA_VISIBLE_DEVICES"})  # Slurm's value for the job stands


def output_dir(settings: Settings) -> Path:
    """Where Slurm jobs write (GPURENT_SLURM_OUTPUT_DIR): by default /var/lib/gpurent-slurm
    as root, else DATA_DIR/slurm (the operator's jobs only: no customer user can reach it)."""
    if settings.slurm_output_dir is not None:
        return settings.slurm_output_dir
    if os.geteuid() == 0:
        return Path("/var/lib/gpurent-slurm")
    return settings.resolved_data_dir() / "slurm"


def _run(*args: str) -> str:
    if shutil.which(args[0]) is None:
        raise BackendError(f"{args[0]} is not installed on this host: is Slurm's client here?")
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    except subprocess.TimeoutExpired as exc:
        raise BackendError(f"{args[0]} did not answer in {TIMEOUT} s") from exc
    if done.returncode != 0:
        raise BackendError(f"{' '.join(args[:3])}: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


def job_name(namespace: str, job_id: int) -> str:
    return f"{namespace}-job-{job_id}"


def reservation_name(namespace: str, lease_id: int) -> str:
    return f"{namespace}-lease-{lease_id}"


def _time(value: str) -> datetime | None:
    if not value or value in ("Unknown", "None"):
        return None
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


class SlurmBackend:
    name = "slurm"

    def __init__(
        self, namespace: str = "gpurent", user: str = "root", output: Path | None = None
    ) -> None:
        # Names of jobs and reservations start with the namespace: one cluster can serve
        # several gpurent installations (or test runs) without their names meeting.
        self.namespace = namespace
        self.user = user
        self.output = output  # None: the jobs' logs go where the runner's spec says

    def output_of(self, spec: JobSpec) -> Path:
        """The job's output file."""
        if self.output is None:
            return spec.log_path
        return self.output / job_name(self.namespace, spec.job_id) / slurm_output.OUTPUT

    def submit(self, spec: JobSpec) -> str:
        name = job_name(self.namespace, spec.job_id)
        existing = _run("squeue", "-h", "--name", name, "-o", "%i").split()
        if existing:  # submitted before a restart
            return existing[0]
        user = _job_user(spec)
        if self.output is None:
            if user is not None:
                raise BackendError("a job run as a customer's user needs an output root")
            spec.log_path.parent.mkdir(parents=True, exist_ok=True)
            start_in = spec.log_path.parent
            if spec.workdir:
                start_in = start_in / spec.workdir
                start_in.mkdir(parents=True, exist_ok=True)
        else:
            owner = (user.pw_uid, user.pw_gid) if user else None
            start_in = slurm_output.prepare(self.output, name, spec.workdir, owner)
        home = self.output_of(spec).parent
        args = [
            "sbatch",
            "--parsable",
            f"--job-name={name}",
            f"--output={self.output_of(spec)}",
            f"--chdir={start_in}",
            f"--gres=gpu:{len(spec.gpu_indices)}",
            f"--nodelist={spec.node}",
            f"--export=PATH={JOB_PATH}",  # and Slurm's SLURM_*: none of gpurent's environment
        ]
        if user is not None:
            args += [f"--uid={user.pw_name}", f"--gid={user.pw_gid}"]
        if spec.slurm_account:
            args.append(f"--account={spec.slurm_account}")
        if spec.reservation:
            args.append(f"--reservation={spec.reservation}")
            if user is not None:
                self.admit(spec.reservation, user.pw_name)
        try:
            done = subprocess.run(
                args,
                input=_script(spec, home),
                capture_output=True,
                text=True,
                timeout=TIMEOUT,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise BackendError(f"sbatch failed: {exc}") from exc
        if done.returncode != 0:
            raise BackendError(f"sbatch refused the job: {done.stderr.strip()}")
        return done.stdout.strip().split(";")[0]

    def observe(self, spec: JobSpec, ref: str) -> Observation:
        state = _run("squeue", "-h", "-j", ref, "-o", "%T").strip()
        if state in RUNNING_STATES:
            return Observation(running=state != "PENDING", finished=False)
        line = _run(
            "sacct", "-n", "-P", "-X", "-j", ref,
            "-o", "State,ExitCode,ElapsedRaw,AllocTRES,Start,End",
        ).strip().splitlines()  # fmt: skip
        if not line:  # accounting lags the end by a second or two
            return Observation(running=True, finished=False)
        status, exit_code, elapsed, tres, start, end = line[0].split("|")
        gpus = _GPU_TRES.search(tres)
        count = int(gpus.group(1)) if gpus else len(spec.gpu_indices)
        return Observation(
            running=False,
            finished=True,
            exit_code=int(exit_code.split(":")[0]),
            started_at=_time(start),
            ended_at=_time(end),
            gpu_seconds=count * int(elapsed or 0),
            source="sacct",
            detail={"state": status, "alloc_tres": tres, "elapsed_seconds": int(elapsed or 0)},
        )

    def signal(self, spec: JobSpec, ref: str, hard: bool) -> None:
        if hard:
            _run("scancel", ref)
        else:
            _run("scancel", "--signal=TERM", "--full", ref)

    def read_log(self, spec: JobSpec, offset: int) -> tuple[str, int]:
        if self.output is not None:
            read = slurm_output.read(self.output, job_name(self.namespace, spec.job_id), offset)
            if read is not None:
                return read
        return read_file_from(spec.log_path, offset)  # a job submitted without an output root

    # Reservations for whole-node leases

    def reserve(self, lease_id: int, nodes: list[str], start: datetime, end: datetime) -> None:
        name = reservation_name(self.namespace, lease_id)
        when = start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        minutes = max(1, int((end - max(start, datetime.now(UTC))).total_seconds() // 60) + 1)
        if self.has_reservation(lease_id):
            _run("scontrol", "update", f"ReservationName={name}", f"EndTime={_slurm(end)}")
            return
        _run(
            "scontrol", "create", "reservation", f"ReservationName={name}",
            f"StartTime={when if start > datetime.now(UTC) else 'now'}",
            f"Duration={minutes}", f"Nodes={','.join(nodes)}", f"Users={self.user}",
        )  # fmt: skip
        _run("scontrol", "update", f"ReservationName={name}", f"EndTime={_slurm(end)}")

    def admit(self, reservation: str, user: str) -> None:
        """Let the lease's user (the organization's) run jobs in its reservation."""
        shown = _run("scontrol", "show", "reservation", reservation)
        users = re.search(r"\bUsers=(\S+)", shown)
        if users is None or user not in users.group(1).split(","):
            _run("scontrol", "update", f"ReservationName={reservation}", f"Users+={user}")

    def release(self, lease_id: int) -> None:
        if self.has_reservation(lease_id):
            _run(
                "scontrol",
                "delete",
                f"ReservationName={reservation_name(self.namespace, lease_id)}",
            )

    def has_reservation(self, lease_id: int) -> bool:
        shown = subprocess.run(
            ["scontrol", "show", "reservation", reservation_name(self.namespace, lease_id)],
            capture_output=True, text=True, timeout=TIMEOUT, check=False,
        )  # fmt: skip
        return shown.returncode == 0 and "ReservationName=" in shown.stdout


def _job_user(spec: JobSpec) -> pwd.struct_passwd | None:
    """The Unix user the job runs as: its organization's (None: gpurent's own)."""
    if spec.slurm_user is None:
        return None
    try:
        user = pwd.getpwnam(spec.slurm_user)
    except KeyError:
        raise BackendError(
            f"no Unix user {spec.slurm_user} on this host: the cluster's users must be known "
            "where gpurent submits"
        ) from None
    if user.pw_uid == 0 or user.pw_gid == 0:
        raise PermissionError(f"{spec.slurm_user} has uid or gid 0: a customer's job never runs so")
    if os.geteuid() != 0:
        raise BackendError("gpurent must run as root to submit a job as its organization's user")
    return user


def _script(spec: JobSpec, home: Path) -> str:
    """The batch script: the job's variables, then gpurent's, then exec the command."""
    own = {
        "HOME": str(home),
        "GPURENT_JOB_ID": str(spec.job_id),
        "GPURENT_LEASE_ID": str(spec.lease_id),
    }
    exports = [
        f"export {name}={shlex.quote(value)}"
        for name, value in {**spec.env, **own}.items()
        if _ENV_NAME.fullmatch(name) and name not in _SLURM_SETS
    ]
    command = " ".join(shlex.quote(part) for part in spec.command)
    return "\n".join(["#!/bin/sh", *exports, f"exec {command}", ""])


def _slurm(moment: datetime) -> str:
    # slurmctld reads times in its own (local) zone; these machines run in UTC.
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def read_nodes() -> list[tuple[str, str, int, int, int]]:
    """(node, GPU type, GPUs, CPUs, memory GB) of every node, from `scontrol show node`."""
    nodes = []
    for line in _run("scontrol", "show", "node", "-o").splitlines():
        fields = dict(
            item.split("=", 1) for item in line.split() if "=" in item and not item.startswith("=")
        )
        gres = re.search(r"gpu:([^:,()]+):(\d+)", fields.get("Gres", ""))
        if not gres:
            continue
        memory_gb = max(1, int(fields.get("RealMemory", "1024")) // 1024)
        nodes.append(
            (
                fields["NodeName"],
                gres.group(1),
                int(gres.group(2)),
                int(fields.get("CPUTot", "1")),
                memory_gb,
            )
        )
    return nodes
