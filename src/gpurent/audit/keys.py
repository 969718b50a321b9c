"""The audit log's key: MACs that only the application can compute.

The key never goes into the database: it comes from ``GPURENT_AUDIT_KEY`` or from a file in
the data directory, made (0600) with a random key on first use. Someone who can write to
the database but does not hold the key cannot forge a record, the head or a checkpoint.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine

from gpurent.config import Settings, load_settings

KEY_BYTES = 32


class AuditKeyError(RuntimeError):
    """The key file is unusable (readable by others, or not a key)."""


@dataclass(frozen=True)
class AuditKey:
    secret: bytes = field(repr=False)
    checkpoint_path: Path

    def mac(self, kind: str, text: str) -> str:
        """HMAC-SHA256 of `text`, domain-separated by `kind` (record, head, checkpoint)."""
        return hmac.new(self.secret, f"{kind}\0{text}".encode(), hashlib.sha256).hexdigest()

    def valid(self, kind: str, text: str, mac: str | None) -> bool:
        return mac is not None and hmac.compare_digest(self.mac(kind, text), mac)


def key_of(settings: Settings) -> AuditKey:
    """The key these settings name, read (or made) now."""
    if settings.audit_key is not None:
        secret = settings.audit_key.get_secret_value().encode()
    else:
        secret = _file_key(settings.audit_key_path())
    return AuditKey(secret, settings.audit_checkpoint_path())


def _file_key(path: Path) -> bytes:
    if not path.exists():
        # Written aside, then linked in place: two processes starting at once agree on
        # whichever key came first, and no reader sees half a key.
        aside = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        descriptor = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "w", encoding="ascii") as handle:
                handle.write(secrets.token_hex(KEY_BYTES) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.link(aside, path)
        except FileExistsError:
            pass
        finally:
            aside.unlink(missing_ok=True)
    if path.stat().st_mode & 0o077:
        raise AuditKeyError(f"{path}: the audit key is readable by others; chmod 600 it")
    text = path.read_text(encoding="ascii").strip()
    if len(text) < 2 * KEY_BYTES:
        raise AuditKeyError(f"{path}: not an audit key (64 hexadecimal digits expected)")
    return text.encode()


_bound: WeakKeyDictionary[Engine, AuditKey] = WeakKeyDictionary()
_lock = threading.Lock()


def bind(engine: Engine, settings: Settings) -> AuditKey:
    """Use these settings' key for every record written through `engine`."""
    key = key_of(settings)
    with _lock:
        _bound[engine] = key
    return key


def key_for(connectable: Engine | Connection) -> AuditKey:
    """The key of an engine (or a connection's): bound, else from the environment."""
    engine = connectable.engine
    key = _bound.get(engine)
    if key is None:
        with _lock:
            key = _bound.get(engine)
            if key is None:
                key = _bound[engine] = key_of(load_settings())
    return key
