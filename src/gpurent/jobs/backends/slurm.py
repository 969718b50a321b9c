"""The Slurm backend: a facility that is a Slurm cluster.

Whole-node leases become Slurm reservations (`scontrol create|update|delete
reservation`), and their jobs run with `--reservation`. Slurm 22.05 cannot reserve part
of a node's GPUs, so a partial-node lease has no reservation: its jobs go to the leased
node with `--nodelist=NODE --gres=gpu:N`, and gpurent, the only party submitting to its
nodes, keeps the GPU count within the lease. Jobs are followed with `squeue`, then
`sacct` (GPU-seconds: the gres/gpu count of AllocTRES x ElapsedRaw), and stopped with
`scancel`.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from datetime import UTC, datetime

from gpurent.jobs.backends.base import BackendError, JobSpec, Observation, read_file_from

TIMEOUT = 30
_GPU_TRES = re.compile(r"gres/gpu(?::[^=,]+)?=(\d+)")
RUNNING_STATES = {"PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED", "REQUEUED"}


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

    def __init__(self, namespace: str = "gpurent", user: str = "root") -> None:
        # Names of jobs and reservations start with the namespace: one cluster can serve
        # several gpurent installations (or test runs) without their names meeting.
        self.namespace = namespace
        self.user = user

    def submit(self, spec: JobSpec) -> str:
        existing = _run(
            "squeue", "-h", "--name", job_name(self.namespace, spec.job_id), "-o", "%i"
        ).split()
        if existing:  # submitted before a restart
            return existing[0]
        spec.log_path.parent.mkdir(parents=True, exist_ok=True)
        script = "#!/bin/sh\nexec " + " ".join(shlex.quote(part) for part in spec.command) + "\n"
        args = [
            "sbatch",
            "--parsable",
            f"--job-name={job_name(self.namespace, spec.job_id)}",
            f"--output={spec.log_path}",
            f"--chdir={spec.workdir or spec.log_path.parent}",
            f"--gres=gpu:{len(spec.gpu_indices)}",
            f"--nodelist={spec.node}",
            "--export=ALL,"
            + ",".join(
                f"{k}={v}" for k, v in {**spec.env, "GPURENT_JOB_ID": str(spec.job_id)}.items()
            ),
        ]
        if spec.reservation:
            args.append(f"--reservation={spec.reservation}")
        try:
            done = subprocess.run(
                args, input=script, capture_output=True, text=True, timeout=TIMEOUT, check=False
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
        return read_file_from(spec.log_path, offset)

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
