"""``gpurent serve --demo`` as a real server process, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import PostgresDatabases
from tests.test_cli import GPURENT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def server_env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Environment for a server on a brand-new data directory (and database)."""
    env = {**os.environ, "GPURENT_DATA_DIR": str(tmp_path / "fresh")}
    env.pop("GPURENT_DATABASE_URL", None)
    if request.param == "sqlite":
        yield env
        return
    postgres: PostgresDatabases = request.getfixturevalue("postgres")
    name = postgres.create()
    yield {**env, "GPURENT_DATABASE_URL": postgres.url_for(name)}
    postgres.drop(name)


@pytest.fixture
def demo_server(server_env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    port = free_port()
    log = (tmp_path / "server.log").open("w")
    process = subprocess.Popen(
        [GPURENT, "serve", "--demo", "--port", str(port)],
        env=server_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"server did not start: {(tmp_path / 'server.log').read_text()}")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


@pytest.fixture
def admin(demo_server: str, server_env: dict[str, str]) -> dict[str, str]:
    """The demo administrator's token, from the file the demo writes."""
    token = (Path(server_env["GPURENT_DATA_DIR"]) / "demo-token").read_text().strip()
    return {"Authorization": f"Bearer {token}"}


class TestDemoServer:
    def test_acceptance_figures(self, demo_server: str, admin: dict[str, str]) -> None:
        expected = {
            "A100-80GB": (4992, "3A090.a"),
            "H100-SXM": (15832, "3A090.a"),
            "A30": (2640, "3A090.b"),
            "H20": (2368, "not controlled"),
            "RTX-4090D": (4706.8, "not controlled"),
        }
        for name, (tpp, klass) in expected.items():
            body = httpx.get(f"{demo_server}/v1/gpu-models/{name}", headers=admin).json()
            assert (body["tpp"], body["classification"]) == (tpp, klass), name
        assert httpx.get(f"{demo_server}/v1/gpu-models/RTX-4090D", headers=admin).json()[
            "note_2_applies"
        ]

    def test_demo_fleet_shape(
        self, demo_server: str, admin: dict[str, str], server_env: dict[str, str]
    ) -> None:
        facilities = httpx.get(f"{demo_server}/v1/facilities", headers=admin).json()
        countries = {f["country"] for f in facilities}
        assert "US" in countries
        assert len(countries) >= 2
        nodes = httpx.get(f"{demo_server}/v1/nodes", headers=admin).json()
        eight_gpu_nodes = [n for n in nodes if len(n["gpus"]) == 8]
        assert len(eight_gpu_nodes) >= 12
        gpus = httpx.get(f"{demo_server}/v1/gpus", headers=admin).json()
        assert len(gpus) == sum(len(n["gpus"]) for n in nodes)
        models = Counter(g["model"] for g in gpus)
        assert {"A100-80GB", "H100-SXM", "H20", "L40S"} <= set(models)
        token = Path(server_env["GPURENT_DATA_DIR"], "demo-token")
        assert token.stat().st_mode & 0o777 == 0o600
        assert len(token.read_text().strip()) > 30

    def test_demo_screens_against_the_bundled_excerpt(
        self, demo_server: str, admin: dict[str, str]
    ) -> None:
        response = httpx.post(
            f"{demo_server}/v1/screenings",
            json={"name": "科大讯飞股份有限公司"},
            timeout=30,
            headers=admin,
        )
        assert response.status_code == 200, response.text
        top = response.json()["matches"][0]
        assert (top["name"], top["is_match"]) == ("iFlytek", True)
        (version,) = httpx.get(f"{demo_server}/v1/lists", headers=admin).json()
        assert version["dataset"] == "bis-entity-list-excerpt"

    def test_a_renter_runs_a_job_on_two_leased_gpus(
        self, demo_server: str, admin: dict[str, str], server_env: dict[str, str]
    ) -> None:
        tokens = json.loads((Path(server_env["GPURENT_DATA_DIR"]) / "demo-tokens.json").read_text())
        renter = {"Authorization": f"Bearer {tokens['Lakeside University']}"}
        lease = httpx.post(
            f"{demo_server}/v1/leases",
            json={"gpu_model": "A100-80GB", "gpus": 2, "hours": 1},
            headers=renter,
            timeout=30,
        ).json()
        assert lease["status"] == "active", lease
        held = sorted(int(a.split("/")[1]) for a in lease["gpu_addresses"])
        job = httpx.post(
            f"{demo_server}/v1/leases/{lease['id']}/jobs",
            json={"command": ["sh", "-c", "echo $CUDA_VISIBLE_DEVICES; sleep 2"], "gpus": 2},
            headers=renter,
        ).json()
        deadline = time.monotonic() + 60
        while (shown := httpx.get(f"{demo_server}/v1/jobs/{job['id']}", headers=renter).json())[
            "status"
        ] not in ("succeeded", "failed"):
            assert time.monotonic() < deadline, shown
            time.sleep(0.5)
        assert shown["status"] == "succeeded"
        logs = httpx.get(f"{demo_server}/v1/jobs/{job['id']}/logs", headers=renter).json()
        assert logs["text"].strip() == ",".join(map(str, held))
        usage = subprocess.run(
            [GPURENT, "usage", "--lease", str(lease["id"]), "--json"],
            env=server_env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        (row,) = json.loads(usage.stdout)
        assert row["used_gpu_seconds"] == shown["gpu_seconds"] >= 4
