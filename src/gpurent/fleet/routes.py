"""Fleet API: facilities, nodes, GPUs and GPU state changes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from gpurent.accounts.roles import Permission
from gpurent.accounts.service import Principal
from gpurent.api.auth import allowed, principal_with
from gpurent.api.deps import SessionDep
from gpurent.api.params import Offset
from gpurent.bounds import Reference
from gpurent.fleet import service
from gpurent.fleet.schemas import FacilityOut, GpuEventOut, GpuOut, GpuStateChange, NodeOut
from gpurent.fleet.states import GpuState
from gpurent.leases import service as lease_service

router = APIRouter(prefix="/v1", tags=["fleet"])

Name = Annotated[str, Path(min_length=1, max_length=200)]
GpuReference = Annotated[Reference, Path(description="an id, node/index or serial")]
Filter = Annotated[str | None, Query(max_length=200)]


@router.get("/facilities", dependencies=[allowed(Permission.FLEET_READ)])
def list_facilities(session: SessionDep) -> list[FacilityOut]:
    return [FacilityOut.of(facility) for facility in service.list_facilities(session)]


@router.get("/facilities/{name}", dependencies=[allowed(Permission.FLEET_READ)])
def get_facility(name: Name, session: SessionDep) -> FacilityOut:
    return FacilityOut.of(service.get_facility(session, name))


@router.get("/nodes", dependencies=[allowed(Permission.FLEET_READ)])
def list_nodes(session: SessionDep, facility: Filter = None) -> list[NodeOut]:
    return [NodeOut.of(node) for node in service.list_nodes(session, facility=facility)]


@router.get("/nodes/{name}", dependencies=[allowed(Permission.FLEET_READ)])
def get_node(name: Name, session: SessionDep) -> NodeOut:
    return NodeOut.of(service.get_node(session, name))


@router.get("/gpus", dependencies=[allowed(Permission.FLEET_READ)])
def list_gpus(
    session: SessionDep,
    response: Response,
    facility: Filter = None,
    node: Filter = None,
    model: Filter = None,
    state: GpuState | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    offset: Offset = 0,
) -> list[GpuOut]:
    """GPUs in facility, node and index order; the total is in ``X-Total-Count``."""
    where = service.GpuFilter(facility=facility, node=node, model=model, state=state)
    gpus, total = service.list_gpus(session, where, limit=limit, offset=offset)
    response.headers["X-Total-Count"] = str(total)
    return [GpuOut.of(gpu) for gpu in gpus]


@router.get("/gpus/{reference}", dependencies=[allowed(Permission.FLEET_READ)])
def get_gpu(reference: GpuReference, session: SessionDep) -> GpuOut:
    """A GPU by id or serial."""
    return GpuOut.of(service.get_gpu(session, reference))


@router.get("/gpus/{reference}/events", dependencies=[allowed(Permission.FLEET_READ)])
def list_gpu_events(reference: GpuReference, session: SessionDep) -> list[GpuEventOut]:
    gpu = service.get_gpu(session, reference)
    return [GpuEventOut.of(event) for event in service.gpu_events(session, gpu)]


@router.put("/gpus/{reference}/state")
def set_gpu_state(
    reference: GpuReference,
    change: GpuStateChange,
    session: SessionDep,
    who: Principal = principal_with(Permission.FLEET_WRITE),
) -> GpuOut:
    if not change.force:
        found = service.get_gpu(session, reference)
        lease_service.refuse_if_held(session, found.id, found.address, change.state)
    gpu = service.set_gpu_state(
        session, reference, change.state, reason=change.reason, actor=who.actor
    )
    return GpuOut.of(gpu)
