"""Balance, ledger, invoices and money recorded by the operator. A renter sees only its
own organization's money."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response, status

from gpurent.accounts.roles import Permission
from gpurent.accounts.service import Principal, get_organization
from gpurent.api.auth import principal_with
from gpurent.api.deps import SessionDep
from gpurent.api.params import IdPath, Offset
from gpurent.billing import invoices, service
from gpurent.billing.schemas import (
    AccountIn,
    AccountOut,
    BalanceOut,
    CreditNoteIn,
    InvoiceIn,
    InvoiceOut,
    InvoiceStatusIn,
    LedgerEntryOut,
    MoneyIn,
    Month,
)
from gpurent.bounds import Reference
from gpurent.errors import InvalidInputError, NotFoundError
from gpurent.timeutil import utcnow

router = APIRouter(prefix="/v1", tags=["billing"])

OrganizationQuery = Annotated[
    Reference | None, Query(description="staff: the organization (name or id)")
]
FORMATS = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
}


def _customer_id(session: SessionDep, who: Principal, organization: str | None) -> int:
    customer = service.customer_for(session, who, organization)
    if customer is None or customer.kind != "customer":
        raise InvalidInputError("name a customer organization", fields=["organization"])
    return customer.id


@router.get("/balance")
def get_balance(
    session: SessionDep,
    organization: OrganizationQuery = None,
    who: Principal = principal_with(Permission.BILLING_READ),
) -> BalanceOut:
    """Balance, credit line, burn rate of the running leases and when the balance runs out."""
    return service.balance_out(session, _customer_id(session, who, organization))


@router.get("/ledger")
def get_ledger(
    session: SessionDep,
    response: Response,
    organization: OrganizationQuery = None,
    lease_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    month: Annotated[Month | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
    who: Principal = principal_with(Permission.BILLING_READ),
) -> list[LedgerEntryOut]:
    """Oldest first; the total is in ``X-Total-Count``."""
    entries, total = service.ledger_page(
        session,
        _customer_id(session, who, organization),
        lease_id=lease_id,
        month=month,
        limit=limit,
        offset=offset,
    )
    response.headers["X-Total-Count"] = str(total)
    return entries


@router.get("/invoices")
def list_invoices(
    session: SessionDep,
    organization: OrganizationQuery = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
    who: Principal = principal_with(Permission.BILLING_READ),
) -> list[InvoiceOut]:
    """Issued invoices and credit notes, newest first (staff: every customer's unless one
    is named)."""
    scope: int | None = None
    if who.own_organization_only or organization is not None:
        scope = _customer_id(session, who, organization)
    found = invoices.list_invoices(session, scope, limit=limit, offset=offset)
    return [service.invoice_out(invoice) for invoice in found]


@router.get("/invoices/draft")
def draft_invoice(
    session: SessionDep,
    organization: OrganizationQuery = None,
    month: Annotated[Month | None, Query()] = None,
    who: Principal = principal_with(Permission.BILLING_READ),
) -> InvoiceOut:
    """The open month's invoice as it stands (default: this month)."""
    return service.draft_out(session, _customer_id(session, who, organization), month)


@router.post("/invoices", status_code=status.HTTP_201_CREATED)
def issue_invoice(
    body: InvoiceIn,
    session: SessionDep,
    request: Request,
    who: Principal = principal_with(Permission.BILLING_WRITE),
) -> InvoiceOut:
    """Issue a closed month's invoice for a customer (again: the one issued)."""
    organization_id = get_organization(session, body.organization).id
    session.rollback()  # issuing begins its own write transaction
    invoice = invoices.issue(session, organization_id, body.month, now=utcnow(), actor=who.actor)
    return service.invoice_out(invoice)


@router.get("/invoices/{invoice_ref}", response_model=None)
def get_invoice(
    invoice_ref: Annotated[
        str,
        Path(
            pattern=r"^[1-9][0-9]{0,17}(\.(json|csv|html|pdf))?$",
            description="an id, with .csv, .html or .pdf for an export",
        ),
    ],
    request: Request,
    session: SessionDep,
    who: Principal = principal_with(Permission.BILLING_READ),
) -> Response | InvoiceOut:
    """JSON by default; CSV or HTML by suffix or by ``Accept``."""
    number, _, suffix = invoice_ref.partition(".")
    invoice = service.visible_invoice(invoices.get_invoice(session, int(number)), who)
    wanted = suffix or _accepted(request.headers.get("accept", ""))
    if wanted == "json":
        return service.invoice_out(invoice)
    if wanted == "pdf":
        raise NotFoundError(
            "PDF is not available on this server: print the HTML export (.html) instead",
            fields=["format"],
        )
    content = {**invoice.snapshot, "status": invoice.status}
    body = invoices.to_csv(content) if wanted == "csv" else invoices.to_html(content)
    filename = f"{invoice.number}.{wanted}"
    return Response(
        body, media_type=FORMATS[wanted],
        headers={"Content-Disposition": f'inline; filename="{filename}"'},
    )  # fmt: skip


def _accepted(accept: str) -> str:
    for kind, media in FORMATS.items():
        if media.split(";")[0] in accept:
            return kind
    return "json"


@router.post("/invoices/{invoice_id}/status")
def change_invoice_status(
    invoice_id: IdPath,
    body: InvoiceStatusIn,
    session: SessionDep,
    who: Principal = principal_with(Permission.BILLING_WRITE),
) -> InvoiceOut:
    """Paid, or void (which credits its total back with a credit note)."""
    invoice = invoices.change_invoice_status(
        session, invoice_id, body.status, now=utcnow(), actor=who.actor, reason=body.reason
    )
    return service.invoice_out(invoice)


@router.post("/invoices/{invoice_id}/credit-notes", status_code=status.HTTP_201_CREATED)
def add_credit_note(
    invoice_id: IdPath,
    body: CreditNoteIn,
    session: SessionDep,
    who: Principal = principal_with(Permission.BILLING_WRITE),
) -> InvoiceOut:
    note = invoices.credit_note(
        session, invoice_id, body.amount, body.reason, now=utcnow(), actor=who.actor
    )
    return service.invoice_out(note)


@router.post("/organizations/{org_id}/credits", status_code=status.HTTP_201_CREATED)
def record_money(
    org_id: IdPath,
    body: MoneyIn,
    session: SessionDep,
    who: Principal = principal_with(Permission.BILLING_WRITE),
) -> LedgerEntryOut:
    """Record a top-up, a grant, a credit or an adjustment (a payment provider's webhook
    would post its top-ups here, with its payment id as the reference)."""
    organization = get_organization(session, org_id)
    session.rollback()
    return service.record_money(session, organization, body, actor=who.actor)


@router.put("/organizations/{org_id}/billing")
def set_billing(
    org_id: IdPath,
    body: AccountIn,
    session: SessionDep,
    who: Principal = principal_with(Permission.BILLING_WRITE),
) -> AccountOut:
    """Prepaid or invoiced, credit line, monthly cap (``user``: a cap for one user)."""
    organization = get_organization(session, org_id)
    session.rollback()
    return service.set_account(session, organization, body, actor=who.actor)
