"""Fleet tables."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Enum, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gpurent.catalog.models import GpuModel
from gpurent.db.base import Base, UtcDateTime, enum_values
from gpurent.fleet.states import GpuState
from gpurent.timeutil import utcnow

if TYPE_CHECKING:
    from gpurent.accounts.models import Organization


class Facility(Base):
    """A data centre: where the hardware sits, which decides the export rules that apply."""

    __tablename__ = "facilities"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    country: Mapped[str] = mapped_column(String(2), comment="ISO 3166-1 alpha-2")
    city: Mapped[str] = mapped_column(String(128))
    backend: Mapped[str] = mapped_column(
        String(16), default="local", server_default="local", comment="where jobs run: local, slurm"
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    nodes: Mapped[list[Node]] = relationship(back_populates="facility", order_by="Node.name")
    slurm_accounts: Mapped[list[SlurmAccount]] = relationship(
        back_populates="facility", order_by="SlurmAccount.unix_user"
    )


class SlurmAccount(Base):
    """Who an organization's jobs run as on a Slurm facility: its own Unix user and Slurm
    account there, so that Slurm's permissions and accounting keep tenants apart. Each
    user and each account serves one organization of the facility."""

    __tablename__ = "slurm_accounts"
    __table_args__ = (
        UniqueConstraint("facility_id", "organization_id"),
        UniqueConstraint("facility_id", "unix_user"),
        UniqueConstraint("facility_id", "account"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facilities.id"))
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    unix_user: Mapped[str] = mapped_column(String(32), comment="the job's user on the cluster")
    account: Mapped[str] = mapped_column(String(64), comment="the job's Slurm account")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    facility: Mapped[Facility] = relationship(back_populates="slurm_accounts")
    organization: Mapped[Organization] = relationship()


class Node(Base):
    __tablename__ = "nodes"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facilities.id"), index=True)
    cpu_cores: Mapped[int]
    memory_gb: Mapped[int]
    # Nodes sharing a domain (an InfiniBand or NVLink fabric) can serve one large job.
    interconnect_domain: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    facility: Mapped[Facility] = relationship(back_populates="nodes")
    gpus: Mapped[list[Gpu]] = relationship(back_populates="node", order_by="Gpu.index")


class Gpu(Base):
    __tablename__ = "gpus"
    __table_args__ = (
        UniqueConstraint("node_id", "index"),
        Index("ix_gpus_model_state", "model_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("nodes.id"))
    index: Mapped[int] = mapped_column(comment="index on the node, as CUDA numbers it")
    model_id: Mapped[int] = mapped_column(ForeignKey("gpu_models.id"))
    serial: Mapped[str] = mapped_column(String(64), unique=True)
    state: Mapped[GpuState] = mapped_column(
        Enum(GpuState, native_enum=False, length=16, values_callable=enum_values),
        default=GpuState.AVAILABLE,
    )
    state_changed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    node: Mapped[Node] = relationship(back_populates="gpus")
    model: Mapped[GpuModel] = relationship()

    @property
    def address(self) -> str:
        """``node/index``: how operators name a GPU."""
        return f"{self.node.name}/{self.index}"


class GpuEvent(Base):
    """One state change of one GPU (its creation included); never edited."""

    __tablename__ = "gpu_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    gpu_id: Mapped[int] = mapped_column(ForeignKey("gpus.id"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(500))
    actor: Mapped[str] = mapped_column(String(128))


class FleetRevision(Base):
    """One counter, raised by every change to GPUs or nodes in the same transaction.

    Processes cache the fleet's layout (which GPUs can be placed, on which nodes) and
    reload it when this number moves.
    """

    __tablename__ = "fleet_revision"

    id: Mapped[int] = mapped_column(primary_key=True)
    value: Mapped[int] = mapped_column(default=0)
