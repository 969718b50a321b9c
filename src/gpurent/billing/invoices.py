"""Invoices per organization and calendar month (UTC): a draft computed from the ledger
while the month is open; issued with a gapless number and a snapshot of the customer,
every line, rate and tax; then paid or void. Corrections are credit notes.

An issued invoice carries the ledger entries it lists (invoice_entries, one invoice per
entry): an entry rated late for a closed month goes on the next invoice issued."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy import insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from gpurent.accounts.models import Organization
from gpurent.audit import service as audit
from gpurent.billing import ledger
from gpurent.billing.models import (
    EntryKind,
    Invoice,
    InvoiceCounter,
    InvoiceEntry,
    LedgerEntry,
)
from gpurent.billing.policy import BillingPolicy
from gpurent.billing.rating import month_bounds, round_money
from gpurent.catalog.models import GpuModel
from gpurent.compliance import service as compliance
from gpurent.db.engine import begin_write
from gpurent.errors import ConflictError, InvalidInputError, InvalidTransitionError, NotFoundError
from gpurent.fleet.models import Gpu, GpuEvent
from gpurent.leases.models import Lease

INVOICED = (EntryKind.CHARGE, EntryKind.CREDIT, EntryKind.ADJUSTMENT)  # not payments, not tax
TRANSITIONS = {"issued": {"paid", "void"}, "paid": set(), "void": set()}
TAX_FILE = Path(__file__).parent / "data" / "tax-rates.yaml"


@dataclass(frozen=True)
class TaxRule:
    country: str | None
    rate: Decimal
    note: str


@lru_cache(maxsize=4)
def _tax_table(path: str) -> dict[str, Any]:
    return yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}


def tax_rule(country: str | None, path: Path | None = None) -> TaxRule:
    table = _tax_table(str(path or TAX_FILE))
    rates = table.get("countries") or {}
    rate = Decimal(str(rates.get(country or "", table.get("default", 0))))
    note = str(table.get("reverse_charge_note", "Reverse charge.")) if rate == 0 else ""
    return TaxRule(country, rate, note)


def _plain(value: Decimal) -> str:
    return format(value, "f")


def _line_order(item: tuple[tuple[Any, ...], list[LedgerEntry]]) -> tuple[Any, ...]:
    """Leases by id and month, each charge before its credits; then other entries."""
    key, entries = item
    if key[0] == "lease":
        return (0, key[1], key[2], key[3] or 0)
    return (1, entries[0].id, "", 0)


def _lines(session: Session, entries: list[LedgerEntry], currency: str) -> list[dict[str, Any]]:
    """Lease charges per lease and period, failed-GPU credits per GPU event, other credits
    and adjustments one by one."""
    lease_ids = {e.lease_id for e in entries if e.lease_id is not None}
    leases = {
        lease.id: (lease, name)
        for lease, name in session.execute(
            select(Lease, GpuModel.name).join(GpuModel).where(Lease.id.in_(lease_ids))
        )
    }
    event_ids = {e.gpu_event_id for e in entries if e.gpu_event_id is not None}
    events = {
        event.id: (event, gpu)
        for event, gpu in session.execute(
            select(GpuEvent, Gpu)
            .join(Gpu, Gpu.id == GpuEvent.gpu_id)
            .where(GpuEvent.id.in_(event_ids))
        )
    }
    groups: dict[tuple[Any, ...], list[LedgerEntry]] = defaultdict(list)
    for e in entries:
        if e.lease_id is not None:
            groups[("lease", e.lease_id, e.month, e.gpu_event_id)].append(e)
        else:
            groups[("entry", e.id)].append(e)
    lines = []
    for group_key, items in sorted(groups.items(), key=_line_order):
        amount = -sum((i.amount for i in items), Decimal(0))
        hours = sum((i.gpu_hours or Decimal(0) for i in items), Decimal(0))
        starts = [i.period_start for i in items if i.period_start]
        ends = [i.period_end for i in items if i.period_end]
        line: dict[str, Any] = {
            "kind": "charge",
            "description": items[0].description,
            "lease_id": items[0].lease_id,
            "gpu_model": None,
            "gpus": None,
            "term": None,
            "start": min(starts).isoformat() if starts else None,
            "end": max(ends).isoformat() if ends else None,
            "gpu_hours": _plain(hours.normalize()) if hours else None,
            "rate": _plain(items[0].rate.normalize()) if items[0].rate is not None else None,
            "amount": _plain(round_money(amount, currency)),
            "gpu": None,
            "gpu_event_id": None,
        }
        if group_key[0] == "lease":
            lease, model = leases[items[0].lease_id]  # type: ignore[index]
            line.update(gpu_model=model, gpus=lease.gpus, term=lease.term.value)
            line["description"] = f"lease {lease.id}: {lease.gpus} x {model} ({lease.term.value})"
            if items[0].gpu_event_id is not None:
                event, gpu = events[items[0].gpu_event_id]
                line.update(kind="credit", gpus=1, gpu=gpu.address, gpu_event_id=event.id)
                line["description"] = (
                    f"credit, lease {lease.id}: GPU {gpu.address} failed at "
                    f"{event.at.isoformat()} (GPU event {event.id})"
                )
        else:
            line["kind"] = items[0].kind
            line["description"] = items[0].description or items[0].kind
        lines.append(line)
    return lines


def _open_entries(session: Session, organization_id: int, month: str) -> list[LedgerEntry]:
    carried = select(InvoiceEntry.entry_id)
    return list(
        session.scalars(
            select(LedgerEntry)
            .where(
                LedgerEntry.organization_id == organization_id,
                LedgerEntry.month <= month,
                LedgerEntry.kind.in_(INVOICED),
                LedgerEntry.id.not_in(carried),
            )
            .order_by(LedgerEntry.id)
        )
    )


def customers_to_invoice(session: Session, month: str) -> list[int]:
    """Organizations with entries of the month (or before) that no invoice carries yet."""
    carried = select(InvoiceEntry.entry_id)
    return list(
        session.scalars(
            select(LedgerEntry.organization_id)
            .where(
                LedgerEntry.month <= month,
                LedgerEntry.kind.in_(INVOICED),
                LedgerEntry.id.not_in(carried),
            )
            .distinct()
            .order_by(LedgerEntry.organization_id)
        )
    )


def _customer(session: Session, organization: Organization) -> dict[str, Any]:
    dossier = compliance.get_dossier(session, organization.id)
    address = None
    if dossier and dossier.addresses:
        first = dossier.addresses[0]
        address = {"street": first.street, "city": first.city, "country": first.country}
    return {
        "id": organization.id,
        "name": dossier.legal_name if dossier else organization.name,
        "account": organization.name,
        "country": (dossier.headquarters_country if dossier else None) or organization.country,
        "address": address,
    }


def draft(
    session: Session, organization_id: int, month: str, *, currency: str = "USD",
    tax_file: Path | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The invoice as it would be issued now (no number): what the ledger holds for it."""
    month_bounds(month)  # refuses a malformed month
    organization = session.get(Organization, organization_id)
    if organization is None:
        raise NotFoundError(f"no organization {organization_id}")
    entries = _open_entries(session, organization_id, month)
    if entries:
        currency = entries[0].currency
    customer = _customer(session, organization)
    rule = tax_rule(customer["country"], tax_file)
    lines = _lines(session, entries, currency)
    subtotal = sum((Decimal(line["amount"]) for line in lines), Decimal(0))
    tax = round_money(subtotal * rule.rate, currency) if subtotal > 0 else Decimal(0)
    return {
        "kind": "invoice",
        "status": "draft",
        "number": None,
        "month": month,
        "currency": currency,
        "customer": customer,
        "lines": lines,
        "tax": {"country": rule.country, "rate": _plain(rule.rate), "note": rule.note},
        "subtotal": _plain(round_money(subtotal, currency)),
        "tax_amount": _plain(round_money(tax, currency)),
        "total": _plain(round_money(subtotal + tax, currency)),
        "entry_ids": [e.id for e in entries],
    }


def _next_number(session: Session, year: int, prefix: str) -> str:
    """Raise the year's counter under its row lock (held to the end of the issuing
    transaction: issuers queue, and a rolled back one leaves no gap)."""
    connection = session.connection()
    module: Any = postgresql if connection.dialect.name == "postgresql" else sqlite
    connection.execute(
        module.insert(InvoiceCounter).values(year=year, last=0).on_conflict_do_nothing()
    )
    last = connection.execute(
        update(InvoiceCounter)
        .where(InvoiceCounter.year == year)
        .values(last=InvoiceCounter.last + 1)
        .returning(InvoiceCounter.last)
    ).scalar_one()
    return f"{prefix}-{year}-{last:06d}"


def issue(
    session: Session, organization_id: int, month: str, *, now: datetime, actor: str,
    policy: BillingPolicy | None = None, tax_file: Path | None = None,
) -> Invoice:  # fmt: skip
    """Issue the month's invoice (after the month ended); commits. Issuing again returns
    the one issued."""
    policy = policy or BillingPolicy()
    _, month_end = month_bounds(month)
    if now < month_end:
        raise ConflictError(
            f"{month} is still open: its invoice is a draft until {month_end.isoformat()}",
            fields=["month"],
        )
    ref = f"{organization_id}:{month}"
    begin_write(session)
    try:
        # The counter's row lock first: issuers queue here, and each one then sees what
        # the one before it carried (a rollback below undoes the number: no gap).
        number = _next_number(session, int(month[:4]), policy.invoice_prefix)
        existing = session.scalars(select(Invoice).where(Invoice.ref == ref)).one_or_none()
        if existing is not None:
            session.rollback()
            return existing
        content = draft(session, organization_id, month, tax_file=tax_file)
        if not content["lines"]:
            raise ConflictError(f"nothing to invoice for {month}", fields=["month"])
        entry_ids = content.pop("entry_ids")
        content.update(status="issued", number=number, issued_at=now.isoformat())
        invoice = Invoice(
            organization_id=organization_id, ref=ref, kind="invoice", month=month,
            number=number, status="issued", currency=content["currency"],
            subtotal=Decimal(content["subtotal"]), tax=Decimal(content["tax_amount"]),
            total=Decimal(content["total"]), snapshot=content, issued_at=now,
            status_changed_at=now, actor=actor,
        )  # fmt: skip
        session.add(invoice)
        session.flush()
        session.execute(
            insert(InvoiceEntry), [{"entry_id": i, "invoice_id": invoice.id} for i in entry_ids]
        )
        if invoice.tax:
            ledger.append(
                session,
                [
                    ledger.entry(
                        organization_id=organization_id, kind=EntryKind.TAX,
                        amount=-invoice.tax, currency=invoice.currency,
                        key=f"tax:{invoice.id}", actor=actor, at=now, month=month,
                        invoice_id=invoice.id, description=f"tax on {number}",
                    )
                ],
            )  # fmt: skip
        audit.record(session, actor, "invoice.issue", f"invoice:{invoice.id}", {
            "number": number, "total": content["total"], "currency": invoice.currency,
        })  # fmt: skip
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return invoice


def get_invoice(session: Session, reference: str | int) -> Invoice:
    statement = select(Invoice)
    if isinstance(reference, int) or str(reference).isdigit():
        statement = statement.where(Invoice.id == int(reference))
    else:
        statement = statement.where(Invoice.number == reference)
    invoice = session.scalars(statement).one_or_none()
    if invoice is None:
        raise NotFoundError(f"no invoice {reference}")
    return invoice


def list_invoices(
    session: Session, organization_id: int | None, *, limit: int = 100, offset: int = 0
) -> list[Invoice]:
    statement = select(Invoice)
    if organization_id is not None:
        statement = statement.where(Invoice.organization_id == organization_id)
    return list(session.scalars(statement.order_by(Invoice.id.desc()).limit(limit).offset(offset)))


def change_invoice_status(
    session: Session, invoice_id: int, target: str, *, now: datetime, actor: str, reason: str = ""
) -> Invoice:
    """Paid or void; commits. Voiding credits the invoice's total back (a credit note)."""
    begin_write(session)
    try:
        invoice = get_invoice(session, invoice_id)
        if target not in TRANSITIONS.get(invoice.status, set()):
            raise InvalidTransitionError(
                f"invoice {invoice.number} is {invoice.status} and cannot become {target}",
                fields=["status"],
            )
        if invoice.kind != "invoice":
            raise InvalidInputError("a credit note is final", fields=["status"])
        current = invoice.status
        invoice.status = target
        invoice.status_changed_at = now
        audit.record(session, actor, "invoice.status", f"invoice:{invoice.id}", {
            "from": current, "to": target, "reason": reason,
        })  # fmt: skip
        session.flush()
        left = invoice.total - _credited(session, invoice)
        if target == "void" and left > 0:  # what earlier credit notes did not credit yet
            _credit_note(
                session,
                invoice,
                left,
                reason or "invoice void",
                now,
                actor,
                BillingPolicy(),
            )
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return invoice


def credit_note(
    session: Session, invoice_id: int, amount: Decimal, reason: str, *, now: datetime,
    actor: str, policy: BillingPolicy | None = None,
) -> Invoice:  # fmt: skip
    """Correct an issued invoice by crediting part or all of it back; commits."""
    begin_write(session)
    try:
        invoice = get_invoice(session, invoice_id)
        if invoice.kind != "invoice" or invoice.status == "void":
            raise ConflictError(
                f"{invoice.number} cannot be corrected (it is {invoice.status} {invoice.kind})"
            )
        note = _credit_note(session, invoice, amount, reason, now, actor, policy or BillingPolicy())
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return note


def _credited(session: Session, invoice: Invoice) -> Decimal:
    notes = session.scalars(select(Invoice.total).where(Invoice.corrects_id == invoice.id))
    return -sum(notes, Decimal(0))


def _credit_note(
    session: Session, invoice: Invoice, amount: Decimal, reason: str, now: datetime, actor: str,
    policy: BillingPolicy,
) -> Invoice:  # fmt: skip
    amount = round_money(amount, invoice.currency)
    already = _credited(session, invoice)
    if amount <= 0 or already + amount > invoice.total:
        raise InvalidInputError(
            f"a credit note is between 0.01 and what is left of {invoice.number} "
            f"({invoice.total - already} {invoice.currency})",
            fields=["amount"],
        )
    number = _next_number(session, now.year, policy.invoice_prefix)
    snapshot = {
        "kind": "credit_note", "status": "issued", "number": number, "month": invoice.month,
        "currency": invoice.currency, "customer": invoice.snapshot.get("customer"),
        "corrects": invoice.number, "reason": reason,
        "lines": [{"kind": "credit", "description": f"correction of {invoice.number}: {reason}",
                   "amount": _plain(-amount)}],
        "tax": invoice.snapshot.get("tax"), "subtotal": _plain(-amount),
        "tax_amount": "0.00", "total": _plain(-amount), "issued_at": now.isoformat(),
    }  # fmt: skip
    note = Invoice(
        organization_id=invoice.organization_id, ref=f"cn:{number}", kind="credit_note",
        month=invoice.month, number=number, status="issued", currency=invoice.currency,
        subtotal=-amount, tax=Decimal(0), total=-amount, snapshot=snapshot,
        corrects_id=invoice.id, issued_at=now, status_changed_at=now, actor=actor,
    )  # fmt: skip
    session.add(note)
    session.flush()
    ledger.append(
        session,
        [
            ledger.entry(
                organization_id=invoice.organization_id, kind=EntryKind.CREDIT, amount=amount,
                currency=invoice.currency, key=f"credit-note:{note.id}", actor=actor, at=now,
                month=invoice.month, invoice_id=note.id, description=f"{number}: {reason}",
            )
        ],
    )  # fmt: skip
    # The credit is settled by the note itself: it never appears on a later invoice.
    carried = session.scalar(
        select(LedgerEntry.id).where(LedgerEntry.key == f"credit-note:{note.id}")
    )
    session.execute(insert(InvoiceEntry).values(entry_id=carried, invoice_id=note.id))
    audit.record(session, actor, "invoice.credit_note", f"invoice:{note.id}", {
        "number": number, "corrects": invoice.number, "amount": _plain(amount),
    })  # fmt: skip
    return note


# Exports -------------------------------------------------------------------------------

CSV_COLUMNS = ("kind", "description", "lease_id", "gpu_model", "gpus", "term", "start", "end",
               "gpu_hours", "rate", "amount", "gpu", "gpu_event_id")  # fmt: skip


def to_csv(content: dict[str, Any]) -> str:
    """One row per line, then the subtotal, the tax and the total."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for line in content["lines"]:
        writer.writerow(["" if line.get(c) is None else line.get(c) for c in CSV_COLUMNS])
    blanks = [""] * (len(CSV_COLUMNS) - 2)
    amount_at = CSV_COLUMNS.index("amount")
    for kind, value in (
        ("subtotal", content["subtotal"]),
        ("tax", content["tax_amount"]),
        ("total", content["total"]),
    ):
        row = [kind, kind, *blanks]
        row[amount_at] = value
        writer.writerow(row[: len(CSV_COLUMNS)])
    return out.getvalue()


@lru_cache(maxsize=1)
def _templates() -> Environment:
    return Environment(
        loader=PackageLoader("gpurent.billing", "templates"),
        autoescape=select_autoescape(["html"]),
    )


def to_html(content: dict[str, Any], operator: str = "gpurent") -> str:
    return _templates().get_template("invoice.html").render(invoice=content, operator=operator)
