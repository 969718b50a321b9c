"""Runs one job and records what happened, where the job cannot write.

    python -m gpurent.jobs.backends.local_runner RECORDS_DIR

RECORDS_DIR (under the data directory, root's alone) holds `plan.json`, written by the
backend. The runner stays the runner's user (root, when sandboxed) while the job runs as the
lease's user; it is a child subreaper, so every process the job starts stays below it
whatever it does to detach, and it waits for the last of them: the job's time runs from its
first process's start to its last process's exit, on the runner's own clock. It writes
`started.json` at once and `result.json` at the end (exit code of the first process, times,
CPU and memory from the cgroup or rusage). SIGTERM is passed on to every process of the job.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gpurent.jobs.sandbox import processes
from gpurent.jobs.sandbox.cgroups import JobCgroup
from gpurent.jobs.sandbox.confine import Confinement, confine


def _write_atomically(path: Path, data: dict[str, Any]) -> None:
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(data))
    os.replace(partial, path)


def _wait_for_all(first: int) -> int:
    """Reap every process of the job; returns the first one's exit status."""
    status = 0
    while True:
        try:
            pid, raw = os.waitpid(-1, 0)
        except ChildProcessError:
            return status
        if pid == first:
            status = os.waitstatus_to_exitcode(raw)


def main(argv: list[str]) -> int:
    records = Path(argv[0])
    plan = json.loads((records / "plan.json").read_text())
    processes.become_subreaper()
    uid = plan["uid"]
    cgroup = JobCgroup.create(plan["job_id"]) if uid is not None else None
    devices_limited = False
    if cgroup is not None:
        cgroup.save(records / "cgroup.json")
        devices_limited = cgroup.limit_gpus(plan["gpu_minors"])
    confinement = Confinement(
        uid=uid,
        workdir=Path(plan["workdir"]),
        gpu_minors=tuple(plan["gpu_minors"]),
        cgroup=cgroup,
    )

    def job_processes() -> set[int]:
        return (cgroup.pids() if cgroup else set()) | processes.descendants(os.getpid())

    started = datetime.now(UTC)
    _write_atomically(records / "started.json", {"started_at": started.isoformat()})
    begin = time.monotonic()
    with (records / "output.log").open("ab") as log:
        try:
            child = subprocess.Popen(
                plan["command"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=plan["env"],
                close_fds=True,
                preexec_fn=confine(confinement),  # safe: the runner has one thread
            )
        except (OSError, ValueError, subprocess.SubprocessError) as exc:
            log.write(f"gpurent: cannot start {plan['command'][0]!r}: {exc}\n".encode())
            code = 127
        else:
            signal.signal(
                signal.SIGTERM, lambda *_: processes.signal_all(job_processes(), signal.SIGTERM)
            )
            code = _wait_for_all(child.pid)
    wall = time.monotonic() - begin
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    result: dict[str, Any] = {
        "exit_code": code if code >= 0 else 128 - code,
        "signal": -code if code < 0 else None,
        "started_at": started.isoformat(),
        "ended_at": datetime.now(UTC).isoformat(),
        "wall_seconds": wall,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "max_rss_kb": usage.ru_maxrss,
        "uid": uid,
        "cgroup": cgroup is not None,
        "gpu_devices_limited": devices_limited,
    }
    if cgroup is not None:
        result.update(cgroup.accounting())
        cgroup.remove()
    _write_atomically(records / "result.json", result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
