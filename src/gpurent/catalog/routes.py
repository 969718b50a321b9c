"""GPU catalog API."""

from __future__ import annotations

from fastapi import APIRouter

from gpurent.accounts.roles import Permission
from gpurent.api.auth import allowed
from gpurent.api.deps import SessionDep
from gpurent.catalog import service
from gpurent.catalog.schemas import GpuModelOut

router = APIRouter(prefix="/v1/gpu-models", tags=["catalog"])


@router.get("", dependencies=[allowed(Permission.CATALOG_READ)])
def list_gpu_models(session: SessionDep) -> list[GpuModelOut]:
    return [service.describe(model) for model in service.list_models(session)]


@router.get("/{name}", dependencies=[allowed(Permission.CATALOG_READ)])
def get_gpu_model(name: str, session: SessionDep) -> GpuModelOut:
    return service.describe(service.get_model(session, name))
