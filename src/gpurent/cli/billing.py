"""``gpurent balance``, ``ledger``, ``invoice``, ``credit`` and ``limit``: money, locally
(the services on the configured database; the API's /v1/balance, /v1/ledger,
/v1/invoices and /v1/organizations/{id}/credits|billing do the same remotely)."""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path

import typer
from rich.table import Table

from gpurent.accounts.service import get_organization
from gpurent.billing import invoices, service
from gpurent.billing.schemas import AccountIn, BalanceOut, MoneyIn
from gpurent.cli import remote
from gpurent.cli.common import JSON_OPTION, cli_actor, console, open_session, print_json
from gpurent.cli.remote import local_only
from gpurent.errors import InvalidInputError
from gpurent.timeutil import utcnow

invoice_app = typer.Typer(help="Invoices: drafts, issuing, exports.", no_args_is_help=True)
credit_app = typer.Typer(help="Money recorded by the operator.", no_args_is_help=True)
limit_app = typer.Typer(help="Credit lines and monthly caps.", no_args_is_help=True)
ORG = typer.Option(..., "--organization", "-o", help="the customer (name or id)")


def register(app: typer.Typer) -> None:
    """Add the billing commands to the ``gpurent`` command."""
    app.command("balance")(balance)
    app.command("ledger")(ledger)
    app.add_typer(invoice_app, name="invoice")
    app.add_typer(credit_app, name="credit")
    app.add_typer(limit_app, name="limit")


def balance(
    organization: str | None = typer.Option(
        None, "--organization", "-o", help="the customer (name or id); a renter: its own"
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Balance, credit line, burn rate of the running leases and when the balance runs out."""
    api = remote.client()
    if api is not None:  # through the server, with the profile's permissions
        params = {"organization": organization} if organization else None
        out = BalanceOut.model_validate(api.call("GET", "/v1/balance", params=params))
    else:
        if organization is None:
            raise InvalidInputError("--organization: which customer?", fields=["organization"])
        with open_session() as session:
            out = service.balance_out(session, get_organization(session, organization).id)
    if as_json:
        print_json(out)
        return
    console.print(f"balance        {out.balance:.2f} {out.currency}", markup=False)
    console.print(f"credit line    {out.credit_limit:.2f} {out.currency}", markup=False)
    console.print(f"burn rate      {out.burn_per_hour:.2f} {out.currency}/hour", markup=False)
    runs_out = out.runs_out_at.isoformat() if out.runs_out_at else "-"
    if not out.prepaid:
        runs_out = "- (invoiced in arrears)"
    console.print(f"runs out at    {runs_out}", markup=False)
    cap = f" of {out.monthly_cap:.2f}" if out.monthly_cap is not None else ""
    console.print(f"this month     {out.month_to_date:.2f}{cap} {out.currency}", markup=False)
    for alert in out.alerts[:5]:
        console.print(f"  {alert.at:%Y-%m-%d %H:%M} {alert.kind}: {alert.detail}", markup=False)


def ledger(
    organization: str = ORG,
    lease: int | None = typer.Option(None, help="one lease's entries"),
    month: str | None = typer.Option(None, help="YYYY-MM"),
    limit: int = typer.Option(100, min=1, max=1000),
    offset: int = typer.Option(0, min=0),
    as_json: bool = JSON_OPTION,
) -> None:
    """Ledger entries, oldest first."""
    local_only()  # not yet through the client: refused while a server is in use
    with open_session() as session:
        org_id = get_organization(session, organization).id
        rows, total = service.ledger_page(
            session, org_id, lease_id=lease, month=month, limit=limit, offset=offset
        )
    if as_json:
        print_json(rows)
        return
    table = Table("id", "at", "kind", "amount", "month", "lease", "period", "description")
    for row in rows:
        period = ""
        if row.period_start and row.period_end:
            period = f"{row.period_start:%m-%d %H:%M} - {row.period_end:%m-%d %H:%M}"
        table.add_row(
            str(row.id), f"{row.at:%Y-%m-%d %H:%M}", row.kind, f"{row.amount:.2f}", row.month,
            str(row.lease_id or ""), period, row.description,
        )  # fmt: skip
    console.print(table)
    console.print(f"{len(rows)} of {total} entries", markup=False)


@invoice_app.command("list")
def invoice_list(
    organization: str | None = typer.Option(None, "--organization", "-o"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Issued invoices and credit notes, newest first."""
    local_only()  # not yet through the client: refused while a server is in use
    with open_session() as session:
        org_id = get_organization(session, organization).id if organization else None
        rows = [service.invoice_out(i) for i in invoices.list_invoices(session, org_id)]
    if as_json:
        print_json(rows)
        return
    table = Table("id", "number", "kind", "month", "organization", "status", "total")
    for row in rows:
        table.add_row(
            str(row.id), row.number or "", row.kind, row.month, str(row.organization_id),
            row.status, f"{row.total:.2f} {row.currency}",
        )  # fmt: skip
    console.print(table)


@invoice_app.command("show")
def invoice_show(
    invoice: str = typer.Argument(..., help="id or number; 'draft' with --organization"),
    organization: str | None = typer.Option(None, "--organization", "-o"),
    month: str | None = typer.Option(None, help="the draft's month (default: this one)"),
    as_json: bool = JSON_OPTION,
) -> None:
    """One invoice with its lines (or the open month's draft)."""
    local_only()  # not yet through the client: refused while a server is in use
    with open_session() as session:
        if invoice == "draft":
            if organization is None:
                raise InvalidInputError("a draft needs --organization", fields=["organization"])
            out = service.draft_out(session, get_organization(session, organization).id, month)
        else:
            out = service.invoice_out(invoices.get_invoice(session, invoice))
    if as_json:
        print_json(out)
        return
    doc = out.document
    console.print(f"{out.number or 'draft'}  {doc['customer']['name']}  {out.month}  "
                  f"{out.status}", markup=False)  # fmt: skip
    table = Table("description", "GPU-hours", "rate", "amount")
    for line in doc["lines"]:
        table.add_row(line["description"], line.get("gpu_hours") or "", line.get("rate") or "",
                      line["amount"])  # fmt: skip
    console.print(table)
    tax = doc.get("tax") or {}
    console.print(f"subtotal {doc['subtotal']}  tax {doc['tax_amount']} (rate {tax.get('rate')})"
                  f"  total {doc['total']} {out.currency}", markup=False)  # fmt: skip
    if tax.get("note"):
        console.print(tax["note"], markup=False)


@invoice_app.command("issue")
def invoice_issue(
    month: str = typer.Option(..., help="YYYY-MM, a month that has ended"),
    organization: str | None = typer.Option(
        None, "--organization", "-o", help="one customer (default: every one with charges)"
    ),
) -> None:
    """Issue a closed month's invoices (again: the ones issued)."""
    local_only()  # not yet through the client: refused while a server is in use
    with open_session() as session:
        if organization:
            ids = [get_organization(session, organization).id]
        else:
            ids = invoices.customers_to_invoice(session, month)
        session.rollback()
        for org_id in ids:
            issued = invoices.issue(session, org_id, month, now=utcnow(), actor=cli_actor())
            console.print(f"{issued.number}  organization {org_id}  {issued.total:.2f} "
                          f"{issued.currency}", markup=False)  # fmt: skip


@invoice_app.command("export")
def invoice_export(
    invoice: str,
    fmt: str = typer.Option("html", "--format", help="json, csv or html"),
    output: Path | None = typer.Option(None, help="write here instead of standard output"),
) -> None:
    """An issued invoice as JSON, CSV or a printable HTML page (PDF: print the HTML)."""
    local_only()  # not yet through the client: refused while a server is in use
    with open_session() as session:
        found = invoices.get_invoice(session, invoice)
        content = {**found.snapshot, "status": found.status}
    if fmt == "json":
        text = service.invoice_out(found).model_dump_json(indent=2) + "\n"
    elif fmt == "csv":
        text = invoices.to_csv(content)
    elif fmt == "html":
        text = invoices.to_html(content)
    else:
        raise InvalidInputError("--format is json, csv or html", fields=["format"])
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        console.print(f"wrote {output}", markup=False)


@credit_app.command("add")
def credit_add(
    organization: str = typer.Argument(..., help="the customer (name or id)"),
    amount: Decimal = typer.Argument(...),
    kind: str = typer.Option("credit", help="credit, top_up, grant or adjustment"),
    reference: str = typer.Option(..., help="payment id or ticket: a retry counts once"),
    description: str = typer.Option(""),
    currency: str = typer.Option("USD"),
) -> None:
    """Record a credit, top-up, grant or adjustment."""
    local_only()  # not yet through the client: refused while a server is in use
    money = MoneyIn.model_validate(
        {"kind": kind, "amount": amount, "reference": reference, "description": description,
         "currency": currency}
    )  # fmt: skip
    with open_session() as session:
        org = get_organization(session, organization)
        org_id = org.id
        session.rollback()
        entry = service.record_money(session, org, money, actor=cli_actor())
        now_balance = service.balance_out(session, org_id)
    console.print(f"entry {entry.id}: {entry.kind} {entry.amount:.2f} {entry.currency}; "
                  f"balance {now_balance.balance:.2f}", markup=False)  # fmt: skip


@limit_app.command("set")
def limit_set(
    organization: str = typer.Argument(..., help="the customer (name or id)"),
    cap: Decimal | None = typer.Option(None, help="monthly cap"),
    hard: bool | None = typer.Option(None, "--hard/--soft", help="refuse bookings past it"),
    user: str | None = typer.Option(None, help="the cap is this user's"),
    credit_line: Decimal | None = typer.Option(None, help="how far below zero it may go"),
    prepaid: bool | None = typer.Option(None, "--prepaid/--invoiced"),
) -> None:
    """Set a monthly cap (of the organization or a user), a credit line, prepaid or not."""
    local_only()  # not yet through the client: refused while a server is in use
    change = AccountIn.model_validate(
        {"monthly_cap": cap, "hard_cap": hard, "user": user, "credit_limit": credit_line,
         "prepaid": prepaid}
    )  # fmt: skip
    with open_session() as session:
        org = get_organization(session, organization)
        session.rollback()
        out = service.set_account(session, org, change, actor=cli_actor())
    cap_text = f"{out.monthly_cap:.2f}" if out.monthly_cap is not None else "none"
    console.print(f"{organization}: {'prepaid' if out.prepaid else 'invoiced'}, credit line "
                  f"{out.credit_limit:.2f}, monthly cap {cap_text}"
                  f"{' (hard)' if out.hard_cap else ''}{' [user ' + user + ']' if user else ''}",
                  markup=False)  # fmt: skip
