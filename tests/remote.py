"""A real ``gpurent serve --demo`` for the client's and the remote CLI's tests: one per
database and test module, with its tokens read from the files the demo writes."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import JOB_WORKSPACES, PostgresDatabases
from tests.servers import servers

RENTER = "Lakeside University"


@dataclass(frozen=True)
class DemoServer:
    url: str
    admin: str
    compliance: str
    renters: dict[str, str]  # organization name -> a renter's token
    env: dict[str, str]  # the server's own environment (its data directory, database)

    @property
    def renter(self) -> str:
        return self.renters[RENTER]


def _job_workspaces() -> Path | None:
    # As conftest's autouse fixture does per test: job users must pass every parent.
    if os.geteuid() != 0:
        return None
    JOB_WORKSPACES.mkdir(mode=0o755, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix="ws-", dir=JOB_WORKSPACES))
    path.chmod(0o711)
    return path


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def demo(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DemoServer]:
    root = tmp_path_factory.mktemp("demo-server")
    env = {**os.environ, "GPURENT_DATA_DIR": str(root / "data")}
    for name in ("GPURENT_DATABASE_URL", "GPURENT_URL", "GPURENT_TOKEN"):
        env.pop(name, None)
    env["GPURENT_CONFIG_DIR"] = str(root / "config")  # the server's host: no profile
    env["GPURENT_WORKER_INTERVAL_SECONDS"] = "0.2"
    workspaces = _job_workspaces()
    if workspaces is not None:
        env["GPURENT_JOB_WORKSPACE_DIR"] = str(workspaces)
    database = None
    if request.param == "postgresql":
        postgres: PostgresDatabases = request.getfixturevalue("postgres")
        database = postgres.create()
        env["GPURENT_DATABASE_URL"] = postgres.url_for(database)
    try:
        with servers(1, env, root, ("--demo",)) as (url,):
            data = root / "data"
            tokens = json.loads((data / "demo-tokens.json").read_text())
            compliance = tokens.pop("compliance")
            admin = (data / "demo-token").read_text().strip()
            yield DemoServer(url, admin, compliance, tokens, env)
    finally:
        if database is not None:
            postgres.drop(database)
        if workspaces is not None:
            shutil.rmtree(workspaces, ignore_errors=True)
