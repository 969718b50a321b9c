"""Slurm's own ``scontrol create reservation``, timed in the same run, where a cluster runs.

A Slurm reservation is the closest thing Slurm has to a lease: the ratio says how
gpurent's booking rate compares with Slurm's reservation rate on the same machine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from datetime import UTC, datetime, timedelta

RESERVATIONS = 100


def available() -> bool:
    return (
        shutil.which("scontrol") is not None
        and "SLURM_CONF" in os.environ
        and (subprocess.run(["scontrol", "ping"], capture_output=True, check=False).returncode == 0)
    )


def _nodes() -> list[str]:
    out = subprocess.run(
        ["sinfo", "-h", "-N", "-o", "%N"], capture_output=True, text=True, check=True
    ).stdout
    return sorted(set(out.split()))


def run() -> dict[str, float]:
    """Create (and afterwards delete) reservations one after another, as gpurent books."""
    nodes = _nodes()
    base = datetime.now(UTC) + timedelta(days=1)
    names = []
    began = time.perf_counter()
    for n in range(RESERVATIONS):
        start = (base + timedelta(hours=2 * n)).strftime("%Y-%m-%dT%H:%M:%S")
        name = f"bench{os.getpid()}_{n}"
        subprocess.run(
            [
                "scontrol",
                "create",
                "reservation",
                f"ReservationName={name}",
                f"StartTime={start}",
                "Duration=60",
                f"Nodes={nodes[n % len(nodes)]}",
                "Users=root",
            ],
            capture_output=True,
            check=True,
        )
        names.append(name)
    elapsed = time.perf_counter() - began
    for name in names:
        subprocess.run(
            ["scontrol", "delete", f"ReservationName={name}"], capture_output=True, check=False
        )
    return {"reservations_per_s": RESERVATIONS / elapsed}
