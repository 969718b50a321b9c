"""fleet and catalog

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-29 00:31:30.242953
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gpurent.db.base

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "facilities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False, comment="ISO 3166-1 alpha-2"),
        sa.Column("city", sa.String(length=128), nullable=False),
        sa.Column("created_at", gpurent.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_facilities")),
        sa.UniqueConstraint("name", name=op.f("uq_facilities_name")),
    )
    op.create_table(
        "gpu_models",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("vendor", sa.String(length=64), nullable=False),
        sa.Column("memory_gb", sa.Integer(), nullable=False),
        sa.Column("die_area_mm2", sa.Numeric(precision=10, scale=2), nullable=True),
        sa.Column("die_area_estimated", sa.Boolean(), nullable=False),
        sa.Column("data_center", sa.Boolean(), nullable=False),
        sa.Column("dense_rates", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("created_at", gpurent.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", gpurent.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gpu_models")),
        sa.UniqueConstraint("name", name=op.f("uq_gpu_models_name")),
    )
    op.create_table(
        "nodes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("facility_id", sa.Integer(), nullable=False),
        sa.Column("cpu_cores", sa.Integer(), nullable=False),
        sa.Column("memory_gb", sa.Integer(), nullable=False),
        sa.Column("interconnect_domain", sa.String(length=64), nullable=True),
        sa.Column("created_at", gpurent.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facilities.id"], name=op.f("fk_nodes_facility_id_facilities")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nodes")),
        sa.UniqueConstraint("name", name=op.f("uq_nodes_name")),
    )
    with op.batch_alter_table("nodes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_nodes_facility_id"), ["facility_id"], unique=False)

    op.create_table(
        "gpus",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("node_id", sa.Integer(), nullable=False),
        sa.Column(
            "index", sa.Integer(), nullable=False, comment="index on the node, as CUDA numbers it"
        ),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("serial", sa.String(length=64), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "available",
                "maintenance",
                "failed",
                "retired",
                name="gpustate",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("state_changed_at", gpurent.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("created_at", gpurent.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"], ["gpu_models.id"], name=op.f("fk_gpus_model_id_gpu_models")
        ),
        sa.ForeignKeyConstraint(["node_id"], ["nodes.id"], name=op.f("fk_gpus_node_id_nodes")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gpus")),
        sa.UniqueConstraint("node_id", "index", name=op.f("uq_gpus_node_id_index")),
        sa.UniqueConstraint("serial", name=op.f("uq_gpus_serial")),
    )
    with op.batch_alter_table("gpus", schema=None) as batch_op:
        batch_op.create_index("ix_gpus_model_state", ["model_id", "state"], unique=False)

    op.create_table(
        "gpu_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("gpu_id", sa.Integer(), nullable=False),
        sa.Column("at", gpurent.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=True),
        sa.Column("to_state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(["gpu_id"], ["gpus.id"], name=op.f("fk_gpu_events_gpu_id_gpus")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gpu_events")),
    )
    with op.batch_alter_table("gpu_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_gpu_events_gpu_id"), ["gpu_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("gpu_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gpu_events_gpu_id"))

    op.drop_table("gpu_events")
    with op.batch_alter_table("gpus", schema=None) as batch_op:
        batch_op.drop_index("ix_gpus_model_state")

    op.drop_table("gpus")
    with op.batch_alter_table("nodes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_nodes_facility_id"))

    op.drop_table("nodes")
    op.drop_table("gpu_models")
    op.drop_table("facilities")
