"""Runs one job and writes what happened, so that any later worker can read it.

    python -m gpurent.jobs.backends.local_runner JOB_DIR -- COMMAND...

The runner leads its own process group (the backend signals the whole group), starts the
command, waits, and writes `result.json` atomically: exit code, start and end times, and
the process accounting of the command and its children (rusage).
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


def main(argv: list[str]) -> int:
    job_dir = Path(argv[0])
    command = argv[argv.index("--") + 1 :]
    started = datetime.now(UTC)
    begin = time.monotonic()
    with (job_dir / "output.log").open("ab") as log:
        try:
            child = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        except OSError as exc:
            log.write(f"gpurent: cannot start {command[0]!r}: {exc}\n".encode())
            code = 127
        else:
            # Pass a stop request on to the command, then wait for it to end.
            signal.signal(signal.SIGTERM, lambda *_: child.send_signal(signal.SIGTERM))
            code = child.wait()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = {
        "exit_code": code if code >= 0 else 128 - code,
        "signal": -code if code < 0 else None,
        "started_at": started.isoformat(),
        "ended_at": datetime.now(UTC).isoformat(),
        "wall_seconds": time.monotonic() - begin,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "max_rss_kb": usage.ru_maxrss,
    }
    partial = job_dir / "result.json.partial"
    partial.write_text(json.dumps(result))
    os.replace(partial, job_dir / "result.json")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
