"""Plain builders of test data."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from gpurent.fleet.fleetfile import parse_fleet_text
from gpurent.fleet.importer import import_fleet
from gpurent.fleet.schemas import ImportReport


def fleet_yaml(
    *,
    nodes: int = 2,
    gpus_per_node: int = 8,
    model: str = "A100-80GB",
    facility: str = "us-test-1",
    country: str = "US",
    extra: str = "",
) -> str:
    """A fleet file with one facility; GPU serials are S-<node>-<index>."""
    lines = [extra, "facilities:", f"  - name: {facility}", f"    country: {country}"]
    lines += ["    city: Testville", "    nodes:"]
    for n in range(nodes):
        lines += [
            f"      - name: node-{n:02d}",
            "        cpu_cores: 64",
            "        memory_gb: 512",
            "        interconnect_domain: ib-1",
            "        gpus:",
        ]
        lines += [
            f"          - {{index: {i}, model: {model}, serial: S-{n:02d}-{i}}}"
            for i in range(gpus_per_node)
        ]
    return "\n".join(lines) + "\n"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def load_fleet(session: Session, text: str, source: str = "fleet.yaml") -> ImportReport:
    return import_fleet(session, parse_fleet_text(text, source), actor="test")


RATE_CARDS = """rate_cards:
  - {gpu_model: A100-80GB, on_demand: 1.25, interruptible: 0.50, reserved: {1: 0.10, 3: 0.20}}
  - {gpu_model: H20, on_demand: 0.90}
"""


def priced_fleet(*, nodes: int = 2, domains: int = 1) -> str:
    """A100-80GB nodes of 8 GPUs with prices; nodes spread over ``domains`` domains."""
    text = fleet_yaml(nodes=nodes, extra=RATE_CARDS)
    for n in range(nodes):
        text = text.replace(
            f"      - name: node-{n:02d}\n        cpu_cores: 64\n        memory_gb: 512\n"
            "        interconnect_domain: ib-1",
            f"      - name: node-{n:02d}\n        cpu_cores: 64\n        memory_gb: 512\n"
            f"        interconnect_domain: ib-{n % domains + 1}",
        )
    return text


def load_two_countries(session: Session) -> None:
    """One priced A100 node in us-test-1 (US) and one in de-test-1 (DE)."""
    load_fleet(session, priced_fleet(nodes=1))
    german = fleet_yaml(nodes=1, facility="de-test-1", country="DE", extra=RATE_CARDS)
    load_fleet(session, german.replace("node-00", "de-00").replace("S-00", "DE-00"))
