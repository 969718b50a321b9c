"""Writing a new lease, its allocations and its first event.

On PostgreSQL the three go in one statement (data-modifying CTEs): a booking is then
one round trip shorter twice over, which is what bounds its rate under load. Elsewhere,
and when interruptible leases must first yield, they go one after another.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import (
    Connection,
    Integer,
    Table,
    column,
    insert,
    literal,
    null,
    select,
    true,
    values,
)

from gpurent.leases.models import Allocation, Lease, LeaseEvent

# The tables, not the mapped classes: plain INSERTs skip the ORM's per-column bookkeeping.
LEASES, ALLOCATIONS, EVENTS = (cast(Table, m.__table__) for m in (Lease, Allocation, LeaseEvent))


def insert_lease(connection: Connection, lease: dict[str, Any]) -> int:
    statement = insert(LEASES).values(lease).returning(LEASES.c.id)
    return int(connection.execute(statement).scalar_one())


def insert_rest(
    connection: Connection,
    lease_id: int,
    allocations: Sequence[dict[str, Any]],
    event: dict[str, Any],
) -> None:
    connection.execute(insert(ALLOCATIONS), [a | {"lease_id": lease_id} for a in allocations])
    connection.execute(insert(EVENTS).values(event | {"lease_id": lease_id}))


def insert_all(
    connection: Connection,
    lease: dict[str, Any],
    allocations: Sequence[dict[str, Any]],
    event: dict[str, Any],
) -> int:
    """Insert the three; returns the lease id."""
    if connection.dialect.name != "postgresql":
        lease_id = insert_lease(connection, lease)
        insert_rest(connection, lease_id, allocations, event)
        return lease_id

    new_lease = insert(LEASES).values(lease).returning(LEASES.c.id).cte("new_lease")
    first = allocations[0]
    placed = values(column("gpu_id", Integer), name="placed").data(
        [(a["gpu_id"],) for a in allocations]
    )
    columns = ALLOCATIONS.c
    new_allocations = (
        insert(ALLOCATIONS)
        .from_select(
            ["lease_id", "gpu_id", "starts_at", "ends_at", "live", "preemptible", "updated_at"],
            select(
                new_lease.c.id,
                placed.c.gpu_id,
                literal(first["starts_at"], columns.starts_at.type),
                literal(first["ends_at"], columns.ends_at.type),
                literal(True),
                literal(first["preemptible"]),
                literal(first["updated_at"], columns.updated_at.type),
            ).select_from(new_lease.join(placed, true())),
        )
        .cte("new_allocations")
    )
    events = EVENTS.c
    statement = (
        insert(EVENTS)
        .from_select(
            ["lease_id", "at", "kind", "from_status", "to_status", "detail", "actor"],
            select(
                new_lease.c.id,
                literal(event["at"], events.at.type),
                literal(event["kind"]),
                null(),
                literal(event["to_status"]),
                literal(event["detail"]),
                literal(event["actor"]),
            ),
        )
        .add_cte(new_allocations)
        .returning(EVENTS.c.lease_id)
    )
    return int(connection.execute(statement).scalar_one())
