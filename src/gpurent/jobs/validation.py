"""What a job submission may hold, checked before anything is stored: a value that the
backend could not pass to exec (a NUL byte, an env name with '=') would otherwise fail the
worker's every round. The limits are documented in docs/jobs.md."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from gpurent.errors import InvalidInputError

MAX_ARGS = 1024
MAX_ARG_BYTES = 32 * 1024
MAX_COMMAND_BYTES = 256 * 1024
MAX_ENV_VARS = 256
MAX_ENV_BYTES = 256 * 1024
MAX_WORKDIR_CHARS = 1000
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,255}")
# Set by gpurent for every job; a job's own value would be ignored, so it is refused.
RESERVED_ENV = frozenset({"CUDA_VISIBLE_DEVICES", "HOME", "PATH"})
RESERVED_PREFIX = "GPURENT_"


def _text(value: str, where: str, limit: int) -> int:
    if "\x00" in value:
        raise InvalidInputError(f"{where} holds a NUL byte", fields=[where])
    size = len(value.encode("utf-8", errors="surrogatepass"))
    if size > limit:
        raise InvalidInputError(f"{where} is {size} bytes; at most {limit}", fields=[where])
    return size


def check_command(command: list[str]) -> None:
    if not command or not command[0]:
        raise InvalidInputError("the command needs a program", fields=["command"])
    if len(command) > MAX_ARGS:
        raise InvalidInputError(f"at most {MAX_ARGS} arguments", fields=["command"])
    total = sum(_text(arg, f"command[{i}]", MAX_ARG_BYTES) for i, arg in enumerate(command))
    if total > MAX_COMMAND_BYTES:
        raise InvalidInputError(
            f"the command is {total} bytes; at most {MAX_COMMAND_BYTES}", fields=["command"]
        )


def check_env(env: dict[str, str]) -> None:
    if len(env) > MAX_ENV_VARS:
        raise InvalidInputError(f"at most {MAX_ENV_VARS} variables", fields=["env"])
    total = 0
    for name, value in env.items():
        where = f"env.{name}"
        if not ENV_NAME.fullmatch(name):
            raise InvalidInputError(
                f"{name!r} is not a variable name ([A-Za-z_][A-Za-z0-9_]*)", fields=["env"]
            )
        if name in RESERVED_ENV or name.startswith(RESERVED_PREFIX):
            raise InvalidInputError(f"{name} is set by gpurent for every job", fields=[where])
        total += len(name) + _text(value, where, MAX_ARG_BYTES)
    if total > MAX_ENV_BYTES:
        raise InvalidInputError(
            f"the environment is {total} bytes; at most {MAX_ENV_BYTES}", fields=["env"]
        )


def check_workdir(workdir: str | None) -> str | None:
    """A directory inside the job's own: relative, without '..'; returned normalized."""
    if workdir is None:
        return None
    _text(workdir, "workdir", MAX_WORKDIR_CHARS)
    path = PurePosixPath(workdir)
    if path.is_absolute() or ".." in path.parts:
        raise InvalidInputError(
            "workdir is relative to the job's directory and cannot leave it", fields=["workdir"]
        )
    return None if str(path) == "." else str(path)


def check_image(image: str | None) -> None:
    if image is not None:
        _text(image, "image", 500)
