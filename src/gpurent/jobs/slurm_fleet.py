"""A fleet file written from what a Slurm cluster says about its nodes."""

from __future__ import annotations

import yaml

from gpurent.jobs.backends.slurm import read_nodes

# Slurm gres GPU types as clusters name them, to gpurent's catalog models.
GRES_MODELS = {
    "a100": "A100-80GB",
    "a100_80gb": "A100-80GB",
    "a100-80gb": "A100-80GB",
    "h100": "H100-SXM",
    "h20": "H20",
    "l40s": "L40S",
    "a30": "A30",
}


def fleet_text_from_slurm(
    facility: str, country: str, city: str, gpu_model: str | None, domain: str = "slurm"
) -> str:
    nodes = []
    for name, gres_type, count, cpus, memory_gb in read_nodes():
        model = gpu_model or GRES_MODELS.get(gres_type.lower(), gres_type)
        nodes.append(
            {
                "name": name,
                "cpu_cores": cpus,
                "memory_gb": memory_gb,
                "interconnect_domain": domain,
                "gpus": [
                    {"index": i, "model": model, "serial": f"{facility}-{name}-{i}"}
                    for i in range(count)
                ],
            }
        )
    document = {
        "facilities": [
            {"name": facility, "country": country, "city": city, "backend": "slurm", "nodes": nodes}
        ]
    }
    return yaml.safe_dump(document, sort_keys=False)
