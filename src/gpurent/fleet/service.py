"""Fleet use cases. Public writes commit; helpers only flush."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, joinedload, selectinload

from gpurent.catalog.models import GpuModel
from gpurent.errors import InvalidInputError, InvalidTransitionError, NotFoundError
from gpurent.fleet.models import Facility, FleetRevision, Gpu, GpuEvent, Node
from gpurent.fleet.states import ALLOWED_TRANSITIONS, GpuState, can_transition
from gpurent.timeutil import utcnow

# Loader options for GPUs shown with their node, facility and model.
_GPU_WITH_PLACE = (joinedload(Gpu.node).joinedload(Node.facility), joinedload(Gpu.model))


def bump_fleet_revision(session: Session) -> None:
    """Tell every process that caches the fleet's layout to reload it (after commit)."""
    session.execute(update(FleetRevision).values(value=FleetRevision.value + 1))


def fleet_revision(session: Session) -> int:
    return session.scalar(select(FleetRevision.value)) or 0


def change_gpu_state(
    session: Session, gpu: Gpu, target: GpuState, *, reason: str, actor: str
) -> GpuEvent:
    """The one way a GPU's state changes: checks the transition and records an event."""
    current = gpu.state
    if not can_transition(current, target):
        allowed = ", ".join(sorted(ALLOWED_TRANSITIONS[current])) or "nothing (final)"
        raise InvalidTransitionError(
            f"GPU {gpu.address} cannot go from {current} to {target}; "
            f"from {current} it can go to {allowed}",
            fields=["state"],
        )
    gpu.state = target
    gpu.state_changed_at = utcnow()
    bump_fleet_revision(session)
    event = GpuEvent(gpu_id=gpu.id, from_state=current, to_state=target, reason=reason, actor=actor)
    session.add(event)
    session.flush()
    return event


def record_gpu_created(session: Session, gpu: Gpu, *, reason: str, actor: str) -> None:
    session.add(
        GpuEvent(gpu_id=gpu.id, from_state=None, to_state=gpu.state, reason=reason, actor=actor)
    )


def set_gpu_state(
    session: Session, reference: str, target: GpuState, *, reason: str, actor: str
) -> Gpu:
    gpu = get_gpu(session, reference)
    change_gpu_state(session, gpu, target, reason=reason, actor=actor)
    session.commit()
    return gpu


def get_gpu(session: Session, reference: str) -> Gpu:
    """Find a GPU by id, by ``node/index`` or by serial."""
    statement = select(Gpu).options(*_GPU_WITH_PLACE)
    if reference.isdigit():
        statement = statement.where(Gpu.id == int(reference))
    elif "/" in reference:
        node_name, _, index = reference.rpartition("/")
        if not index.isdigit():
            raise InvalidInputError(f"GPU {reference!r}: the index after '/' must be a number")
        statement = statement.join(Gpu.node).where(Node.name == node_name, Gpu.index == int(index))
    else:
        statement = statement.where(Gpu.serial == reference)
    gpu = session.scalars(statement).unique().one_or_none()
    if gpu is None:
        raise NotFoundError(f"no GPU {reference!r} (give an id, node/index or serial)")
    return gpu


@dataclass(frozen=True)
class GpuFilter:
    facility: str | None = None
    node: str | None = None
    model: str | None = None
    state: GpuState | None = None


def list_gpus(
    session: Session, where: GpuFilter, *, limit: int, offset: int = 0
) -> tuple[list[Gpu], int]:
    """One page of GPUs, and how many match in all."""
    statement = select(Gpu).join(Gpu.node).join(Node.facility).join(Gpu.model)
    if where.facility:
        statement = statement.where(Facility.name == where.facility)
    if where.node:
        statement = statement.where(Node.name == where.node)
    if where.model:
        statement = statement.where(func.lower(GpuModel.name) == where.model.lower())
    if where.state:
        statement = statement.where(Gpu.state == where.state)
    total = session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    page = statement.options(*_GPU_WITH_PLACE).order_by(Facility.name, Node.name, Gpu.index)
    return list(session.scalars(page.limit(limit).offset(offset))), total


def gpu_events(session: Session, gpu: Gpu) -> list[GpuEvent]:
    statement = select(GpuEvent).where(GpuEvent.gpu_id == gpu.id).order_by(GpuEvent.id)
    return list(session.scalars(statement))


def list_facilities(session: Session) -> list[Facility]:
    statement = select(Facility).options(selectinload(Facility.nodes).selectinload(Node.gpus))
    return list(session.scalars(statement.order_by(Facility.name)))


def get_facility(session: Session, name: str) -> Facility:
    statement = select(Facility).options(selectinload(Facility.nodes).selectinload(Node.gpus))
    facility = session.scalars(statement.where(Facility.name == name)).one_or_none()
    if facility is None:
        raise NotFoundError(f"no facility {name!r}")
    return facility


def list_nodes(session: Session, *, facility: str | None = None) -> list[Node]:
    statement = (
        select(Node)
        .join(Node.facility)
        .options(
            joinedload(Node.facility),
            selectinload(Node.gpus).joinedload(Gpu.model),
        )
        .order_by(Facility.name, Node.name)
    )
    if facility:
        statement = statement.where(Facility.name == facility)
    return list(session.scalars(statement))


def get_node(session: Session, name: str) -> Node:
    statement = select(Node).options(
        joinedload(Node.facility), selectinload(Node.gpus).joinedload(Gpu.model)
    )
    node = session.scalars(statement.where(Node.name == name)).one_or_none()
    if node is None:
        raise NotFoundError(f"no node {name!r}")
    return node


def gpu_counts(session: Session) -> list[tuple[str, str, str, int]]:
    """(facility, model, state, count) for every combination present."""
    statement = (
        select(Facility.name, GpuModel.name, Gpu.state, func.count(Gpu.id))
        .select_from(Gpu)
        .join(Gpu.node)
        .join(Node.facility)
        .join(Gpu.model)
        .group_by(Facility.name, GpuModel.name, Gpu.state)
    )
    return [
        (facility, model, str(state), count)
        for facility, model, state, count in session.execute(statement)
    ]


def count_gpus(session: Session) -> int:
    return session.scalar(select(func.count(Gpu.id))) or 0
