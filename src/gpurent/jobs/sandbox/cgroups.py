"""A cgroup per job, where the kernel lets gpurent make one: every process of the job in it
whatever it does to detach, killed in one write, with its CPU and memory counted, and
(cgroup v1's devices controller) only the leased GPUs' device files openable.

Job cgroups are made below gpurent's own cgroup in each hierarchy, so a job never leaves
the limits the host put on gpurent itself. Without a usable hierarchy, `JobCgroup.create`
returns None and the backend falls back to per-user and per-tree sweeps.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
from dataclasses import dataclass
from pathlib import Path

NVIDIA_MAJOR = 195  # /dev/nvidiaN are character devices 195:N (195:255 is nvidiactl)
NVIDIA_GPU_MINORS = range(0, 64)
V1_CONTROLLERS = ("pids", "memory", "cpuacct", "devices", "freezer")
PIDS_MAX = 4096  # a fork bomb stops here, not at the host's limit


def _own_cgroups() -> dict[str, str]:
    """controller (or "" for cgroup v2) -> this process's cgroup path in it."""
    own: dict[str, str] = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for name in controllers.split(",") if controllers else [""]:
            own[name] = path
    return own


def _mounts() -> dict[str, Path]:
    """controller (or "" for cgroup v2) -> where its hierarchy is mounted."""
    found: dict[str, Path] = {}
    for line in Path("/proc/self/mounts").read_text().splitlines():
        _, where, kind, options, *_ = line.split()
        if kind == "cgroup2":
            found.setdefault("", Path(where))
        elif kind == "cgroup":
            for option in options.split(","):
                if option in V1_CONTROLLERS:
                    found.setdefault(option, Path(where))
    return found


def available_bases() -> dict[str, Path]:
    """Where job cgroups can be made: gpurent's own cgroup in each hierarchy it may write."""
    if os.geteuid() != 0:
        return {}
    try:
        own, mounts = _own_cgroups(), _mounts()
    except OSError:
        return {}
    bases = {}
    for name, mount in mounts.items():
        if name in own:
            base = mount / own[name].lstrip("/")
            if os.access(base, os.W_OK):
                bases[name] = base
    return bases


@dataclass(frozen=True)
class JobCgroup:
    paths: dict[str, str]  # controller ("" for v2) -> the job's cgroup directory

    @staticmethod
    def create(job_id: int) -> JobCgroup | None:
        name = f"gpurent-job-{job_id}-{secrets.token_hex(4)}"
        paths: dict[str, str] = {}
        for controller, base in available_bases().items():
            path = base / name
            try:
                path.mkdir()
            except OSError:
                continue
            paths[controller] = str(path)
        if "" not in paths and "freezer" not in paths:
            # Without cgroup.kill or a freezer a kill can race forks: not worth a cgroup.
            JobCgroup(paths).remove()
            return None
        group = JobCgroup(paths)
        with contextlib.suppress(OSError):
            group._write("pids", "pids.max", str(PIDS_MAX))
        return group

    def _write(self, controller: str, file: str, value: str) -> None:
        path = self.paths.get(controller)
        if path is not None:
            Path(path, file).write_text(value)

    def limit_gpus(self, minors: list[int]) -> bool:
        """Only the leased GPUs' device files can be opened (cgroup v1 devices). False
        where the controller is absent: the docs say what that leaves open."""
        if "devices" not in self.paths:
            return False
        for minor in NVIDIA_GPU_MINORS:
            if minor not in minors:
                self._write("devices", "devices.deny", f"c {NVIDIA_MAJOR}:{minor} rwm")
        return True

    def join(self, pid: int) -> None:
        """Put `pid` in every hierarchy of the job (called by the job's first process on
        itself, before it drops its privileges)."""
        for path in self.paths.values():
            Path(path, "cgroup.procs").write_text(str(pid))

    def pids(self) -> set[int]:
        found: set[int] = set()
        for path in self.paths.values():
            with contextlib.suppress(OSError):
                found |= {int(p) for p in Path(path, "cgroup.procs").read_text().split()}
        return found

    def kill(self) -> None:
        """Every process of the job, at once: cgroup.kill (v2), else frozen, killed, thawed."""
        if "" in self.paths:
            with contextlib.suppress(OSError):
                self._write("", "cgroup.kill", "1")
                return
        with contextlib.suppress(OSError):
            self._write("freezer", "freezer.state", "FROZEN")
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            self._write("freezer", "freezer.state", "THAWED")

    def accounting(self) -> dict[str, int]:
        """CPU time and peak memory, as the kernel counted them."""
        found: dict[str, int] = {}
        reads = {
            "cpu_ns": ("cpuacct", "cpuacct.usage"),
            "max_memory_bytes": ("memory", "memory.max_usage_in_bytes"),
        }
        for key, (controller, file) in reads.items():
            path = self.paths.get(controller)
            if path is not None:
                with contextlib.suppress(OSError, ValueError):
                    found[key] = int(Path(path, file).read_text().split()[0])
        return found

    def remove(self) -> None:
        for path in self.paths.values():
            with contextlib.suppress(OSError):
                os.rmdir(path)

    def save(self, file: Path) -> None:
        file.write_text(json.dumps(self.paths))

    @staticmethod
    def load(file: Path) -> JobCgroup | None:
        try:
            return JobCgroup(json.loads(file.read_text()))
        except (OSError, ValueError):
            return None
