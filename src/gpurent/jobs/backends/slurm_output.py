"""Where Slurm jobs write: one directory per job, owned by the job's user, mode 0700,
inside an output root that gpurent owns (mode 0711: passable, not listable, and writable
by no one else, so no job can swap its directory for another).

Every step opens the next directory through the previous one's descriptor without
following links, and ownership is given through descriptors: a job that planted a
symbolic link cannot make gpurent create, hand over or read anything outside its own
directory. The output is read back the same way, and only from a regular file owned by
the user who owns the job's directory (so a link to another tenant's output, a token or
a FIFO yields nothing).
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from gpurent.jobs.backends.base import BackendError

log = logging.getLogger("gpurent.jobs")
OUTPUT = "output.log"
_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
CHUNK = 1 << 20


@contextlib.contextmanager
def _opened(path: str | Path, flags: int, dir_fd: int | None = None) -> Iterator[int]:
    fd = os.open(path, flags, dir_fd=dir_fd)
    try:
        yield fd
    finally:
        os.close(fd)


def _check_root(fd: int, root: Path) -> None:
    info = os.fstat(fd)
    if info.st_uid != os.geteuid() or info.st_mode & 0o022:
        raise BackendError(
            f"{root} must belong to gpurent's own user and be writable by no one else"
        )


def prepare(root: Path, name: str, workdir: str | None, owner: tuple[int, int] | None) -> Path:
    """Create the job's directory (and its workdir inside it) for `owner` (uid, gid; None:
    gpurent's own user); returns the directory the job starts in."""
    try:
        root.mkdir(mode=0o711, parents=True, exist_ok=True)
        with _opened(root, _DIR) as root_fd:
            _check_root(root_fd, root)
            os.fchmod(root_fd, 0o711)
            parts = [name, *_parts(workdir)]
            _make_chain(root_fd, parts, owner)
    except BackendError:
        raise
    except OSError as exc:
        raise BackendError(f"cannot prepare the job's directory in {root}: {exc}") from exc
    return root.joinpath(*parts)


def _parts(workdir: str | None) -> list[str]:
    if not workdir:
        return []
    path = PurePosixPath(workdir)
    if path.is_absolute() or ".." in path.parts:
        raise PermissionError(f"workdir {workdir!r} leaves the job's directory")
    return [part for part in path.parts if part != "."]


def _make_chain(parent_fd: int, parts: list[str], owner: tuple[int, int] | None) -> None:
    if not parts:
        return
    with contextlib.suppress(FileExistsError):
        os.mkdir(parts[0], 0o700, dir_fd=parent_fd)
    with _opened(parts[0], _DIR, dir_fd=parent_fd) as fd:
        if owner is not None:
            os.fchown(fd, *owner)
        os.fchmod(fd, 0o700)
        _make_chain(fd, parts[1:], owner)


def read(root: Path, name: str, offset: int) -> tuple[str, int] | None:
    """Up to 1 MiB of the job's output from `offset`, and the offset after it; None when
    the job has no directory here."""
    try:
        with _opened(root, _DIR) as root_fd, _opened(name, _DIR, dir_fd=root_fd) as dir_fd:
            return _read_own(dir_fd, offset, f"{root}/{name}")
    except FileNotFoundError:
        return None
    except OSError as exc:  # a link where the directory was (ELOOP), and the like
        log.warning("%s/%s: not read: %s", root, name, exc)
        return "", offset


def _read_own(dir_fd: int, offset: int, where: str) -> tuple[str, int]:
    owner = os.fstat(dir_fd).st_uid
    try:
        fd = os.open(OUTPUT, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
    except FileNotFoundError:
        return "", offset
    except OSError as exc:  # ELOOP: the job put a link there
        log.warning("%s/%s: not read: %s", where, OUTPUT, exc)
        return "", offset
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != owner:
            log.warning("%s/%s is not the job's own file: not read", where, OUTPUT)
            return "", offset
        data = os.pread(fd, CHUNK, offset)
    finally:
        os.close(fd)
    return data.decode("utf-8", errors="replace"), offset + len(data)
