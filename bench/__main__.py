"""Run every benchmark and print its figures with ratios against same-run baselines.

    scripts/bench            (or: python -m bench)

Targets (from the leasing issue): availability p50 <= 20 ms and p99 <= 100 ms on 10,000
GPUs holding 100,000 leases; >= 200 leases/s through HTTP on PostgreSQL with 8 clients and
no overlap; placement serving more GPU-hours than first-fit. Screening (from the screening
issue): F1 >= 0.85 on cases.csv, < 1% false positives, >= 98% recall of treated UN names;
p50 <= 5 ms, p95 <= 25 ms, >= 200 screenings/s. `python -m bench.screening` runs that part alone.
"""

from __future__ import annotations

import os
from pathlib import Path

from bench import availability, booking, jobs, monitoring, placement, screening, slurm

POSTGRES = os.environ.get(
    "GPURENT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def main() -> None:
    print("== availability search (in-process)", flush=True)
    a = availability.run()
    print(f"fleet: {a['gpus']} GPUs, {a['leases']} leases")
    print(f"gpurent search: p50 {a['p50_ms']:.1f} ms, p99 {a['p99_ms']:.1f} ms (target 20 / 100)")
    print(
        f"single-node questions: gpurent p50 {a['single_node_p50_ms']:.1f} ms, naive scan p50 "
        f"{a['naive_single_node_p50_ms']:.1f} ms: {a['speedup_vs_naive']:.1f}x faster"
    )

    print("\n== placement quality (synthetic month, demand near 90% of capacity)", flush=True)
    p = placement.run()
    print(
        f"GPU-hours served: gpurent {p['gpurent_gpu_hours']:.0f} "
        f"({p['gpurent_utilization']:.1%} of capacity), first-fit "
        f"{p['first_fit_gpu_hours']:.0f} ({p['first_fit_utilization']:.1%}): "
        f"ratio {p['served_ratio']:.3f}"
    )
    print(
        f"large requests (>= 16 GPUs) turned away: gpurent {p['gpurent_large_rejected']:.0f}, "
        f"first-fit {p['first_fit_large_rejected']:.0f} of {p['large_requests']:.0f}"
    )

    print("\n== lease creation through HTTP, 8 concurrent clients", flush=True)
    results = booking.run(POSTGRES)
    slurm_rate = slurm.run()["reservations_per_s"] if slurm.available() else None
    for database, r in results.items():
        line = (
            f"{database}: renter (gated) {r['gated_leases_per_s']:.0f} leases/s, "
            f"{r['gated_refused']:.0f} errors; administrator (ungated) "
            f"{r['leases_per_s']:.0f} leases/s, {r['refused']:.0f} errors; gated/ungated "
            f"{r['gated_to_ungated']:.2f}; GET /healthz "
            f"{r['healthz_per_s']:.0f}/s; ratio {r['ratio_to_healthz']:.2f}; "
            f"overlaps {r['overlaps']:.0f}; acknowledged but missing "
            f"{r['acknowledged_missing']:.0f}"
        )
        if slurm_rate:
            line += f"; vs scontrol create reservation {r['leases_per_s'] / slurm_rate:.2f}x"
        print(line)
    if "postgresql" not in results:
        print("postgresql: not reachable, not measured")
    if slurm_rate:
        print(f"slurm: scontrol create reservation {slurm_rate:.0f}/s (sequential)")
    else:
        print(
            "slurm: no cluster running (start ../shared/tools/slurm-test-cluster/start.sh "
            "and export SLURM_CONF), not measured"
        )

    print("\n== jobs on Slurm: through gpurent vs sbatch and squeue directly", flush=True)
    if jobs.available():
        jobs.report(jobs.run())
    else:
        print("no Slurm cluster answers scontrol ping: not measured")

    print("\n== name screening (labelled sets and the real lists)", flush=True)
    lists_dir = os.environ.get("GPURENT_LISTS_DIR")
    if lists_dir:
        screening.report(screening.run(Path(lists_dir)))
        print("\n== continuous monitoring: 10,000 customers", flush=True)
        monitoring.report(monitoring.run(10_000, Path(lists_dir)))
    else:
        print("GPURENT_LISTS_DIR is not set: point it at ../shared/data/lists to run this part")


if __name__ == "__main__":
    main()
