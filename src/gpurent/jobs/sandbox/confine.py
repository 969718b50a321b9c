"""What a job's first process does to itself, as root, between fork and exec: join the
job's cgroup, leave the runner's session, take a private /tmp and hide the GPUs it did not
lease (a mount namespace, where the kernel allows one), then drop to the job's user for
good (no supplementary groups, no new privileges) and enter its working directory."""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import resource
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gpurent.jobs.sandbox.cgroups import JobCgroup
from gpurent.jobs.sandbox.processes import forbid_new_privileges

CLONE_NEWNS = 0x00020000
MS_NOSUID, MS_NODEV, MS_BIND, MS_REC, MS_PRIVATE = 0x2, 0x4, 0x1000, 0x4000, 0x40000
PRIVATE_TMP = ("/tmp", "/var/tmp", "/dev/shm")
GPU_DEVICE = re.compile(r"nvidia(\d+)$")
MAX_PROCESSES = 4096  # per lease user


@dataclass(frozen=True)
class Confinement:
    uid: int | None  # None: run as the runner's own user (no sandbox)
    workdir: Path
    gpu_minors: tuple[int, ...]
    cgroup: JobCgroup | None = None
    devices: Path = Path("/dev")


def _bytes(value: str | None) -> bytes | None:
    return value.encode() if value is not None else None


def _mount(source: str, target: str, kind: str | None, flags: int, data: str | None) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.mount(_bytes(source), _bytes(target), _bytes(kind), flags, _bytes(data)) != 0:
        raise OSError(ctypes.get_errno(), f"mount {target}")


def private_mounts(devices: Path, gpu_minors: tuple[int, ...]) -> bool:
    """A mount namespace of the job's own: fresh /tmp, /var/tmp, /dev/shm (gone with the
    job's last process), and /dev/null over the device files of GPUs it did not lease."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNS) != 0:
        return False
    _mount("none", "/", None, MS_REC | MS_PRIVATE, None)
    for target in PRIVATE_TMP:
        if os.path.isdir(target):
            with contextlib.suppress(OSError):
                _mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777")
    for entry in os.listdir(devices) if devices.is_dir() else []:
        found = GPU_DEVICE.match(entry)
        if found and int(found.group(1)) not in gpu_minors:
            with contextlib.suppress(OSError):
                _mount("/dev/null", str(devices / entry), None, MS_BIND, None)
    return True


def confine(plan: Confinement) -> Callable[[], None]:
    """The function the job's process runs before exec (subprocess's preexec_fn)."""

    def run() -> None:
        if plan.cgroup is not None:
            plan.cgroup.join(os.getpid())
        os.setsid()
        if plan.uid is not None:
            private_mounts(plan.devices, plan.gpu_minors)
            # A fork bomb stops at the lease user's own limit; no core dump of a job's memory
            # waits for the next holder of its uid.
            resource.setrlimit(resource.RLIMIT_NPROC, (MAX_PROCESSES, MAX_PROCESSES))
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            forbid_new_privileges()
            os.setgroups([])
            os.setresgid(plan.uid, plan.uid, plan.uid)
            os.setresuid(plan.uid, plan.uid, plan.uid)
        os.umask(0o077)
        # As the job's user: a working directory it cannot reach is refused here.
        plan.workdir.mkdir(parents=True, exist_ok=True)
        os.chdir(plan.workdir)

    return run
