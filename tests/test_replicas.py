"""Two servers and two workers on one PostgreSQL: each lifecycle step happens once."""

from __future__ import annotations

import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.builders import priced_fleet, write
from tests.conftest import PostgresDatabases
from tests.servers import admin_token, auth, environment, process, servers
from tests.test_cli import GPURENT

LEASES = 24


@pytest.fixture
def database(postgres: PostgresDatabases) -> Iterator[str]:
    name = postgres.create()
    yield postgres.url_for(name)
    postgres.drop(name)


@pytest.mark.postgres
class TestReplicas:
    def test_each_transition_happens_exactly_once(self, database: str, tmp_path: Path) -> None:
        env = environment(
            database,
            tmp_path / "data",
            GPURENT_WORKER_INTERVAL_SECONDS="0.1",
            GPURENT_LEASE_MIN_MINUTES="0",  # two-second leases: every transition within a minute
        )
        fleet = write(tmp_path / "fleet.yaml", priced_fleet(nodes=4, domains=2))
        subprocess.run([GPURENT, "fleet", "import", str(fleet)], env=env, check=True)
        headers = auth(admin_token(env))
        with ExitStack() as stack:
            bases = stack.enter_context(servers(2, env, tmp_path))  # each runs a worker too
            for n in range(2):
                stack.enter_context(process(["worker"], env, tmp_path / f"worker-{n}.log"))
            # Far enough ahead that booking all leases on a loaded machine ends before it.
            start = datetime.now(UTC) + timedelta(seconds=10)
            ids = []
            for n in range(LEASES):
                body = {
                    "gpu_model": "A100-80GB",
                    "gpus": 1,
                    "start": (start + timedelta(milliseconds=50 * n)).isoformat(),
                    "end": (start + timedelta(seconds=2, milliseconds=50 * n)).isoformat(),
                }
                response = httpx.post(
                    f"{bases[n % 2]}/v1/leases", json=body, timeout=30, headers=headers
                )
                assert response.status_code == 201, response.text
                ids.append(response.json()["id"])

            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                leases = httpx.get(
                    f"{bases[0]}/v1/leases", params={"limit": 100}, headers=headers
                ).json()
                if all(lease["status"] == "ended" for lease in leases):
                    break
                time.sleep(0.5)
            time.sleep(1)  # let any duplicate transition surface

            for lease_id in ids:
                events = httpx.get(
                    f"{bases[1]}/v1/leases/{lease_id}/events", headers=headers
                ).json()
                kinds = Counter(event["kind"] for event in events)
                assert kinds == {"created": 1, "active": 1, "before_end": 1, "ended": 1}, events
            actors = {
                event["actor"]
                for lease_id in ids
                for event in httpx.get(
                    f"{bases[0]}/v1/leases/{lease_id}/events", headers=headers
                ).json()
            }
            assert "worker" in actors
