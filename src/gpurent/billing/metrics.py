"""Prometheus: revenue by GPU model and term, balances below notice, cap alerts; read
from the database at scrape time."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from gpurent.billing import balances, ledger
from gpurent.billing.models import BillingAccount, BillingEvent, EntryKind, LedgerEntry
from gpurent.billing.policy import BillingPolicy
from gpurent.billing.rating import SECONDS_PER_HOUR
from gpurent.catalog.models import GpuModel
from gpurent.db.engine import session_scope
from gpurent.leases.models import Lease


def revenue(session: Session) -> list[tuple[str, str, str, Decimal]]:
    """(model, term, currency, net charged) over the whole ledger."""
    rows = session.execute(
        select(GpuModel.name, Lease.term, LedgerEntry.currency, func.sum(LedgerEntry.amount))
        .join(Lease, Lease.id == LedgerEntry.lease_id)
        .join(GpuModel, GpuModel.id == Lease.gpu_model_id)
        .where(
            LedgerEntry.kind.in_((EntryKind.CHARGE, EntryKind.ADJUSTMENT)),
            LedgerEntry.gpu_event_id.is_(None),
        )
        .group_by(GpuModel.name, Lease.term, LedgerEntry.currency)
    )
    return [
        (model, str(term), currency, -Decimal(total or 0)) for model, term, currency, total in rows
    ]


def below_notice(session: Session, policy: BillingPolicy) -> int:
    """Prepaid organizations whose balance covers less than the notice of their burn."""
    count = 0
    hours = Decimal(policy.notice.total_seconds()) / SECONDS_PER_HOUR
    for account in session.scalars(select(BillingAccount).where(BillingAccount.prepaid)):
        burn = balances.burn_per_hour(session, account.organization_id)
        available = ledger.balance(session, account.organization_id) + account.credit_limit
        if burn > 0 and available < burn * hours:
            count += 1
    return count


class BillingCollector(Collector):
    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._session_factory = session_factory

    def collect(self) -> Iterator[Metric]:
        earned = CounterMetricFamily(
            "gpurent_revenue",
            "Net lease charges in the ledger",
            labels=["model", "term", "currency"],
        )
        low = GaugeMetricFamily(
            "gpurent_balances_below_notice",
            "Prepaid organizations whose balance covers less than GPURENT_BALANCE_NOTICE_MINUTES",
        )
        alerts = CounterMetricFamily(
            "gpurent_billing_alerts", "Billing notices and cap alerts recorded", labels=["kind"]
        )
        with session_scope(self._session_factory) as session:
            for model, term, currency, total in revenue(session):
                earned.add_metric([model, term, currency], float(total))
            low.add_metric([], below_notice(session, BillingPolicy.from_environment()))
            counts = session.execute(
                select(BillingEvent.kind, func.count(BillingEvent.id)).group_by(BillingEvent.kind)
            )
            for kind, count in counts:
                alerts.add_metric([kind], count)
        yield earned
        yield low
        yield alerts
