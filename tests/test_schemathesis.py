"""schemathesis, a client no one here wrote, against a real server and its OpenAPI document.

`gpurent serve --demo` on SQLite; schemathesis's own command line runs every operation of
the document, as the demo's administrator and as one of its renters, with a bounded
number of generated cases per operation (boundary values from the coverage phase, then
random fuzzing), and exits non-zero on any server error, any response whose body breaks
the schema the document declares, any status code or content type it does not declare.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import environment, free_port, process, wait_healthy

EXAMPLES = 20  # fuzzed cases per operation and token (the coverage phase adds its own)
SEED = 1  # the same cases on every run; change it to explore
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    ]
)
SCHEMATHESIS = str(Path(sys.executable).with_name("schemathesis"))


def run_schemathesis(base: str, token: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    command = [
        SCHEMATHESIS,
        "run",
        f"{base}/openapi.json",
        "--checks",
        CHECKS,
        "--header",
        f"Authorization: Bearer {token}",
        "--max-examples",
        str(EXAMPLES),
        "--seed",
        str(SEED),
        "--phases",
        "examples,coverage,fuzzing",
        "--workers",
        "1",
        "--no-shrink",
        "--request-timeout",
        "30",
    ]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """The demo server's base URL, and its administrator's and a renter's tokens (one
    server for both runs: the renter's meets what the administrator's left)."""
    tmp_path = tmp_path_factory.mktemp("schemathesis")
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    env = environment(f"sqlite:///{data_dir}/gpurent.db", data_dir)
    port = free_port()
    log = tmp_path / "server.log"
    with process(["serve", "--demo", "--no-worker", "--port", str(port)], env, log) as proc:
        base = f"http://127.0.0.1:{port}"
        wait_healthy(base, proc, log)
        renters = json.loads((data_dir / "demo-tokens.json").read_text())
        tokens = {
            "admin": (data_dir / "demo-token").read_text().strip(),
            "renter": str(renters["Lakeside University"]),
        }
        yield base, tokens
    assert " 500 " not in log.read_text()


@pytest.mark.parametrize("role", ["admin", "renter"])
def test_the_document_holds(demo: tuple[str, dict[str, str]], role: str, tmp_path: Path) -> None:
    base, tokens = demo
    result = run_schemathesis(base, tokens[role], tmp_path)
    report = result.stdout + result.stderr
    (tmp_path / f"schemathesis-{role}.txt").write_text(report)
    assert result.returncode == 0, report[-6000:]
    assert "passed" in report
