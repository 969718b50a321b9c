"""What a decision needs about a customer that does not change from one booking to the
next: its record, the screening of every party in it, its ownership graph and its red
flags; and the requested model's export class.

Computed once per process and reused while a stamp stays the same. The stamp is read in
one query per booking: the customer's kind and record (its last change), its clearances,
the lists in force (versions are immutable and their ids only grow), which customers are
denied (red flags look for details shared with them), and the model's last change.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy import text
from sqlalchemy.orm import Session

from gpurent.compliance.dossier import Dossier
from gpurent.compliance.linked import RedFlag
from gpurent.compliance.ownership import OwnershipGraph
from gpurent.compliance.policy import ListHit

CAPACITY = 4096
V = TypeVar("V")


@dataclass(frozen=True)
class CustomerFacts:
    dossier: Dossier
    hits: tuple[ListHit, ...]
    ownership: OwnershipGraph
    flags: tuple[RedFlag, ...]


@dataclass(frozen=True)
class Snapshot:
    """What the gate reads of the database on every booking."""

    organization_id: int
    name: str
    kind: str
    dossier_changed: object  # None: the customer has no record
    model_changed: object  # None: no such model
    customer_stamp: tuple[object, ...]


# One statement, built once: its parts are the stamps above (plain SQL, so that building
# it costs nothing per booking; it reads the same on SQLite and PostgreSQL).
_SNAPSHOT = text(
    """
    SELECT o.name, o.kind,
      (SELECT d.updated_at FROM dossiers d WHERE d.organization_id = o.id),
      (SELECT m.updated_at FROM gpu_models m WHERE lower(m.name) = :model),
      (SELECT count(c.id) FROM clearances c WHERE c.organization_id = o.id),
      (SELECT max(c.id) FROM clearances c WHERE c.organization_id = o.id),
      (SELECT max(c.undone_at) FROM clearances c WHERE c.organization_id = o.id),
      (SELECT count(v.id) FROM list_versions v WHERE v.superseded_at IS NULL),
      (SELECT max(v.id) FROM list_versions v WHERE v.superseded_at IS NULL),
      (SELECT count(*) FROM standings s WHERE s.decision = 'deny'),
      (SELECT max(s.screened_at) FROM standings s WHERE s.decision = 'deny')
    FROM organizations o WHERE o.id = :organization
    """
)


def snapshot(session: Session, organization_id: int, gpu_model: str) -> Snapshot | None:
    row = session.execute(
        _SNAPSHOT, {"organization": organization_id, "model": gpu_model.lower()}
    ).one_or_none()
    if row is None:
        return None
    name, kind, dossier_changed, model_changed, *stamp = row
    return Snapshot(
        organization_id, name, kind, dossier_changed, model_changed, (dossier_changed, *stamp)
    )


class StampedCache(Generic[V]):
    """A bounded map from stamps to values, shared by the threads of a process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[object, ...], V] = OrderedDict()

    def get(self, key: tuple[object, ...], compute: Callable[[], V]) -> V:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                return found
        value = compute()  # outside the lock: screening takes milliseconds
        with self._lock:
            self._entries[key] = value
            while len(self._entries) > CAPACITY:
                self._entries.popitem(last=False)
        return value


def database_of(session: Session) -> str:
    """Ids repeat across databases (tests, several deployments in one process)."""
    return session.get_bind().engine.url.render_as_string(hide_password=True)


customers: StampedCache[CustomerFacts] = StampedCache()
model_classes: StampedCache[tuple[str, str]] = StampedCache()  # (model name, class)
