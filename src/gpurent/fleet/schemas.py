"""Fleet shapes: the fleet file going in, facilities, nodes and GPUs going out."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Literal

import pycountry
from pydantic import BaseModel, ConfigDict, Field, field_validator

from gpurent.catalog.schemas import GpuModelSpec
from gpurent.fleet.states import GpuState
from gpurent.offers.schemas import RateCardEntry

if TYPE_CHECKING:
    from gpurent.fleet.models import Facility, Gpu, GpuEvent, Node

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
UNIX_USER_PATTERN = r"^[a-z_][a-z0-9_-]*$"  # what useradd accepts by default
SLURM_ACCOUNT_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$"


def check_country_code(code: str) -> str:
    code = code.upper()
    if pycountry.countries.get(alpha_2=code) is None:
        raise ValueError(f"{code!r} is not an ISO 3166-1 alpha-2 country code")
    return code


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class GpuEntry(_Strict):
    index: int = Field(ge=0, le=63)
    model: str = Field(min_length=1)
    serial: str = Field(min_length=1, max_length=64)
    state: GpuState | None = Field(default=None, strict=False)


class NodeEntry(_Strict):
    name: str = Field(min_length=1, max_length=64, pattern=NAME_PATTERN)
    cpu_cores: int = Field(gt=0)
    memory_gb: int = Field(gt=0)
    interconnect_domain: str | None = Field(default=None, max_length=64)
    gpus: list[GpuEntry] = Field(default_factory=list)


class SlurmAccountEntry(_Strict):
    """An organization's Unix user and Slurm account on a Slurm facility."""

    organization: str = Field(min_length=1, max_length=200, description="its name in gpurent")
    user: str = Field(min_length=1, max_length=32, pattern=UNIX_USER_PATTERN)
    account: str = Field(min_length=1, max_length=64, pattern=SLURM_ACCOUNT_PATTERN)

    @field_validator("user")
    @classmethod
    def _not_root(cls, user: str) -> str:
        if user == "root":
            raise ValueError("a customer's jobs never run as root")
        return user


class FacilityEntry(_Strict):
    name: str = Field(min_length=1, max_length=64, pattern=NAME_PATTERN)
    country: str
    city: str = Field(min_length=1, max_length=128)
    backend: Literal["local", "slurm"] = Field(
        default="local", description="where renters' jobs run: this host, or a Slurm cluster"
    )
    nodes: list[NodeEntry] = Field(default_factory=list)
    slurm_accounts: list[SlurmAccountEntry] | None = Field(
        default=None,
        description="Slurm only: who each organization's jobs run as. When given, the list "
        "replaces the facility's mappings; when left out, they stay as they are.",
    )

    _country = field_validator("country")(check_country_code)


class FleetFile(_Strict):
    """The whole fleet file: extra GPU models, the facilities, and their prices."""

    gpu_models: list[GpuModelSpec] = Field(default_factory=list, strict=False)
    facilities: list[FacilityEntry]
    rate_cards: list[RateCardEntry] = Field(default_factory=list, strict=False)


class FacilityOut(BaseModel):
    name: str
    country: str
    city: str
    nodes: int
    gpus: int

    @classmethod
    def of(cls, facility: Facility) -> FacilityOut:
        return cls(
            name=facility.name,
            country=facility.country,
            city=facility.city,
            nodes=len(facility.nodes),
            gpus=sum(len(node.gpus) for node in facility.nodes),
        )


class GpuOut(BaseModel):
    id: int
    address: str = Field(description="node/index")
    node: str
    facility: str
    index: int
    model: str
    serial: str
    state: GpuState
    state_changed_at: datetime

    @classmethod
    def of(cls, gpu: Gpu) -> GpuOut:
        return cls(
            id=gpu.id,
            address=gpu.address,
            node=gpu.node.name,
            facility=gpu.node.facility.name,
            index=gpu.index,
            model=gpu.model.name,
            serial=gpu.serial,
            state=gpu.state,
            state_changed_at=gpu.state_changed_at,
        )


class NodeOut(BaseModel):
    name: str
    facility: str
    country: str
    cpu_cores: int
    memory_gb: int
    interconnect_domain: str | None
    gpus: list[GpuOut]

    @classmethod
    def of(cls, node: Node) -> NodeOut:
        return cls(
            name=node.name,
            facility=node.facility.name,
            country=node.facility.country,
            cpu_cores=node.cpu_cores,
            memory_gb=node.memory_gb,
            interconnect_domain=node.interconnect_domain,
            gpus=[GpuOut.of(gpu) for gpu in node.gpus],
        )


class GpuEventOut(BaseModel):
    at: datetime
    from_state: str | None
    to_state: str
    reason: str
    actor: str

    @classmethod
    def of(cls, event: GpuEvent) -> GpuEventOut:
        return cls(
            at=event.at,
            from_state=event.from_state,
            to_state=event.to_state,
            reason=event.reason,
            actor=event.actor,
        )


class GpuStateChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: GpuState
    reason: str = Field(min_length=1, max_length=500)
    force: bool = Field(default=False, description="proceed although a running lease holds the GPU")


class ImportReport(BaseModel):
    """What a fleet import changed (or would change, in a dry run)."""

    source: str
    dry_run: bool
    created: dict[str, int]
    updated: dict[str, int]
    retired: int
    changes: list[str]
    warnings: list[str] = Field(
        default_factory=list, description="what the fleet now has that cannot be booked"
    )

    @property
    def total(self) -> int:
        return len(self.changes)
