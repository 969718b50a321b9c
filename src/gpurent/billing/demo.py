"""The demo's money: one renter on prepaid terms, with a grant and a running lease, so that
`gpurent balance` shows a balance, a burn rate and a run-out time."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.orm import Session

from gpurent.accounts.models import Organization
from gpurent.accounts.service import principal_for
from gpurent.billing.schemas import MoneyIn
from gpurent.billing.service import record_money
from gpurent.compliance import gate
from gpurent.config import Settings
from gpurent.leases.index import FleetCache
from gpurent.leases.schemas import LeaseRequest


def prepaid_renter(session: Session, settings: Settings, org: Organization, token: str) -> None:
    grant = MoneyIn(
        kind="grant", amount=Decimal(500), reference="demo-grant", description="research grant"
    )
    record_money(session, org, grant, actor="demo")
    who = principal_for(session, token)
    if who is None:
        return
    gate.book(
        session,
        settings,
        who,
        LeaseRequest(gpu_model="A100-80GB", gpus=2, hours=48),
        organization_name=None,
        idempotency_key="demo-prepaid",
        fleet=FleetCache(),
    )
