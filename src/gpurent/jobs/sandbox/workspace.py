"""Each lease's workspace: `ROOT/lease-L` (the job user's home, 0700, its own) holding
`job-J`, one working directory per job. ROOT is root's and 0711: users can pass through it
to their own workspace but cannot list it. Everything is created through directory file
descriptors with O_NOFOLLOW, so that a job user who plants a symbolic link where a later
job's directory will be cannot make gpurent create or chown anything elsewhere."""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from pathlib import Path

ROOT_MODE = 0o711
PRIVATE = 0o700
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW


def lease_home(root: Path, lease_id: int) -> Path:
    return root / f"lease-{lease_id}"


def job_dir(root: Path, lease_id: int, job_id: int) -> Path:
    return lease_home(root, lease_id) / f"job-{job_id}"


def unreachable_ancestor(path: Path) -> Path | None:
    """The first directory above `path` that other users cannot pass through, if any."""
    for parent in [*reversed(path.parents)]:
        if parent.exists() and not parent.stat().st_mode & stat.S_IXOTH:
            return parent
    return None


def _owned_dir(parent_fd: int, name: str, uid: int) -> int:
    """Open (creating if needed) the directory `name` under `parent_fd`, owned by `uid`, 0700."""
    with contextlib.suppress(FileExistsError):
        os.mkdir(name, PRIVATE, dir_fd=parent_fd)
    fd = os.open(name, _DIR_FLAGS, dir_fd=parent_fd)  # a planted symbolic link: ELOOP
    os.fchown(fd, uid, uid)
    os.fchmod(fd, PRIVATE)
    return fd


def prepare(root: Path, lease_id: int, job_id: int, uid: int) -> Path:
    """The job's working directory, ready for `uid`; returns its path."""
    root.mkdir(parents=True, exist_ok=True)
    root_fd = os.open(root, _DIR_FLAGS)
    try:
        os.fchown(root_fd, 0, 0)
        os.fchmod(root_fd, ROOT_MODE)
        home_fd = _owned_dir(root_fd, lease_home(root, lease_id).name, uid)
        try:
            os.close(_owned_dir(home_fd, f"job-{job_id}", uid))
        finally:
            os.close(home_fd)
    finally:
        os.close(root_fd)
    return job_dir(root, lease_id, job_id)


def lock(root: Path, lease_id: int) -> None:
    """Hand the lease's workspace back to root (0700): whoever gets this uid next cannot
    reach the files the previous lease left."""
    try:
        fd = os.open(lease_home(root, lease_id), _DIR_FLAGS)
    except FileNotFoundError:
        return
    try:
        os.fchown(fd, 0, 0)
        os.fchmod(fd, PRIVATE)
    finally:
        os.close(fd)


def remove(root: Path, lease_id: int) -> None:
    # rmtree works through directory descriptors here: links inside are removed, not followed.
    shutil.rmtree(lease_home(root, lease_id), ignore_errors=True)
