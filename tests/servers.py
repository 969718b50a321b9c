"""Real gpurent processes for end-to-end tests: servers, workers, a fresh database each."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx

from tests.test_cli import GPURENT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def environment(database_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "GPURENT_DATA_DIR": str(data_dir), "GPURENT_DATABASE_URL": database_url}
    return env | extra


@contextmanager
def process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("w") as out:
        proc = subprocess.Popen([GPURENT, *args], env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def wait_healthy(base: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    raise RuntimeError(f"server did not start:\n{log.read_text()}")


@contextmanager
def servers(
    count: int, env: dict[str, str], logs: Path, extra_args: tuple[str, ...] = ()
) -> Iterator[list[str]]:
    """``count`` servers on one database; yields their base URLs once all are healthy."""
    with ExitStack() as stack:
        bases = []
        for n in range(count):
            port = free_port()
            log = logs / f"server-{n}.log"
            proc = stack.enter_context(
                process(["serve", "--port", str(port), *extra_args], env, log)
            )
            bases.append((f"http://127.0.0.1:{port}", proc, log))
        for base, proc, log in bases:
            wait_healthy(base, proc, log)
        yield [base for base, _, _ in bases]


def admin_token(env: dict[str, str]) -> str:
    """Create the operator's organization and an administrator token with the CLI."""
    run = {"env": env, "check": True, "capture_output": True, "text": True}
    subprocess.run([GPURENT, "org", "create", "Operator", "--kind", "operator"], **run)  # type: ignore[call-overload]
    made = subprocess.run(  # type: ignore[call-overload]
        [GPURENT, "token", "create", "--org", "Operator", "--user", "admin", "--role", "admin"],
        **run,
    )
    return str(made.stdout).strip()


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
