"""The embedded default under load: eight renters book over HTTP against
``gpurent serve --demo`` on SQLite while the command line writes to the same database.

Every answer must be a 2xx or a 4xx (no 5xx, no dropped connection), and the CLI's
writes must succeed while the server runs.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.servers import free_port, process, wait_healthy
from tests.test_cli import GPURENT

CLIENTS = 8
LOAD_SECONDS = 4.0  # of load after the CLI's writes are done; bounded either way
MAX_SECONDS = 90.0
FIXTURES = Path(__file__).parent / "fixtures" / "lists"


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[str, dict[str, str], dict[str, str]]]:
    """A demo server on a fresh SQLite data directory: (base URL, environment, tokens)."""
    env = {**os.environ, "GPURENT_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200"}
    env.pop("GPURENT_DATABASE_URL", None)
    port = free_port()
    log = tmp_path / "server.log"
    with process(["serve", "--demo", "--port", str(port)], env, log) as proc:
        base = f"http://127.0.0.1:{port}"
        wait_healthy(base, proc, log)
        tokens = json.loads((tmp_path / "data" / "demo-tokens.json").read_text())
        yield base, env, tokens
    assert "database is locked" not in log.read_text()


def renter(base: str, token: str, seed: int, stop: threading.Event, tally: Counter[str]) -> None:
    """Books one-GPU leases at random future hours until told to stop."""
    rng = random.Random(seed)
    with httpx.Client(
        base_url=base, timeout=60, headers={"Authorization": f"Bearer {token}"}
    ) as http:
        step = 0
        while not stop.is_set():
            start = datetime.now(UTC) + timedelta(hours=rng.randint(1, 24 * 50))
            body = {"gpu_model": "A100-80GB", "gpus": 1, "start": start.isoformat(), "hours": 1}
            try:
                response = http.post(
                    "/v1/leases", json=body, headers={"Idempotency-Key": f"r{seed}-{step}"}
                )
            except httpx.TransportError as exc:
                tally[f"transport:{type(exc).__name__}"] += 1
            else:
                tally[str(response.status_code)] += 1
            step += 1


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [GPURENT, *args], env=env, capture_output=True, text=True, timeout=MAX_SECONDS
    )


class TestEightRenters:
    def test_no_server_error_and_the_cli_writes_meanwhile(
        self, demo: tuple[str, dict[str, str], dict[str, str]], tmp_path: Path
    ) -> None:
        base, env, tokens = demo
        renters = [t for name, t in tokens.items() if name != "compliance"]
        assert len(renters) >= 2
        stop = threading.Event()
        tallies: list[Counter[str]] = [Counter() for _ in range(CLIENTS)]
        threads = [
            threading.Thread(
                target=renter, args=(base, renters[n % len(renters)], n, stop, tallies[n])
            )
            for n in range(CLIENTS)
        ]
        began = time.monotonic()
        for thread in threads:
            thread.start()
        try:
            listing = str(FIXTURES / "csl" / "current.csv")
            rescreen = cli(env, "compliance", "rescreen")
            imported = cli(env, "lists", "import", listing, "--json")
            again = cli(env, "lists", "import", listing, "--json")
            time.sleep(max(0.0, min(LOAD_SECONDS, began + MAX_SECONDS - time.monotonic())))
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=MAX_SECONDS)
        seconds = time.monotonic() - began
        tally = sum(tallies, Counter())
        (tmp_path / "tally.json").write_text(json.dumps({"seconds": seconds, **tally}))
        print(f"\n{seconds:.1f} s of load: {dict(tally)}")

        assert rescreen.returncode == 0, rescreen.stderr
        assert imported.returncode == 0, imported.stderr
        assert again.returncode == 0, again.stderr
        (first,) = json.loads(imported.stdout)
        (second,) = json.loads(again.stdout)
        assert second["id"] == first["id"]  # the same file again is no new version
        assert "unchanged" in again.stderr

        server_errors = {code: n for code, n in tally.items() if code.startswith("5")}
        dropped = {code: n for code, n in tally.items() if code.startswith("transport")}
        assert server_errors == {}, tally
        assert dropped == {}, tally
        assert tally["201"] >= 20, tally  # enough bookings to prove anything
        versions = json.loads(cli(env, "lists", "show", "--history", "--json").stdout)
        assert sum(v["dataset"] == first["dataset"] for v in versions) == 1
