"""Processes seen through /proc: by owner, by ancestry; killed until none is left."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
from collections.abc import Callable
from pathlib import Path

PROC = Path("/proc")
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38


def _stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, real uid) of a process, or None once it is gone."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
        status = (PROC / str(pid) / "status").read_text()
    except OSError:
        return None
    # The command name in parentheses may hold spaces: the fields start after its end.
    ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
    uid_line = next(line for line in status.splitlines() if line.startswith("Uid:"))
    return ppid, int(uid_line.split()[1])


def start_time(pid: int) -> int | None:
    """When the process started (clock ticks since boot): with the pid, a process's
    identity, since pids are reused."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return int(stat[stat.rindex(")") + 2 :].split()[19])


def _all_pids() -> list[int]:
    return [int(name) for name in os.listdir(PROC) if name.isdigit()]


def pids_of_user(uid: int) -> set[int]:
    """Every process whose real uid is `uid` (a job cannot shed it: it has no privileges)."""
    found = set()
    for pid in _all_pids():
        seen = _stat(pid)
        if seen is not None and seen[1] == uid:
            found.add(pid)
    return found


def descendants(root: int) -> set[int]:
    """Every process below `root`. Orphans of a subreaper's tree stay below it."""
    children: dict[int, list[int]] = {}
    for pid in _all_pids():
        seen = _stat(pid)
        if seen is not None:
            children.setdefault(seen[0], []).append(pid)
    found: set[int] = set()
    todo = list(children.get(root, []))
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, []))
    return found


def signal_all(pids: set[int], sig: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def kill_until_gone(find: Callable[[], set[int]], rounds: int = 50) -> bool:
    """SIGKILL whatever `find()` returns until it returns nothing (a process may fork while
    the sweep runs; each round kills every one seen). True when nothing is left."""
    for _ in range(rounds):
        pids = find()
        if not pids:
            return True
        signal_all(pids, signal.SIGKILL)
        os.sched_yield()
    return not find()


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie child of this process is reaped and counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return _stat(pid) is not None
    return done == 0


def _prctl(option: int, value: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(option, value, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), f"prctl({option}) failed")


def become_subreaper() -> None:
    """Orphans of this process's tree are re-parented to it rather than to init, so that
    it can wait for the last of them, however they detached."""
    _prctl(PR_SET_CHILD_SUBREAPER, 1)


def forbid_new_privileges() -> None:
    """No setuid program can raise this process or its children above their user."""
    _prctl(PR_SET_NO_NEW_PRIVS, 1)
