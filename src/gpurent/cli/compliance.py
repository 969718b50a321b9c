"""``gpurent compliance``, ``gpurent review`` and ``gpurent audit``."""

from __future__ import annotations

import json
import sys
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import typer
from rich.progress import Progress
from rich.table import Table

from gpurent.accounts.service import get_organization
from gpurent.audit import service as audit
from gpurent.cli import remote
from gpurent.cli.common import JSON_OPTION, cli_actor, console, err_console, open_session
from gpurent.cli.render import (
    OUTPUT_OPTION,
    WIDE_OPTION,
    Column,
    OutputFormat,
    output_format,
    show_table,
    when,
)
from gpurent.compliance import clearances, monitoring, reviews, service
from gpurent.compliance.dossier import dossier_schema, parse_dossier
from gpurent.compliance.gate import decide_request, policy_for
from gpurent.compliance.models import Review
from gpurent.compliance.policy import Outcome, default_policy_text, load_policy
from gpurent.compliance.schemas import ReviewOut
from gpurent.config import load_settings
from gpurent.errors import FileFormatError, GpurentError, NotFoundError
from gpurent.screening import ListEntry
from gpurent.timeutil import utcnow

app = typer.Typer(help="Customer identification, screening and the policy.", no_args_is_help=True)
review_app = typer.Typer(
    help="The review queue: held leases and dossier changes, run as cases.", no_args_is_help=True
)
audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)


@app.command("schema")
def schema() -> None:
    """Print the JSON Schema of the customer identification record."""
    sys.stdout.write(json.dumps(dossier_schema(), indent=2) + "\n")


@app.command("policy")
def policy(path: Path | None = typer.Argument(None, help="validate this file instead")) -> None:
    """Print the policy in force (or validate a replacement)."""
    if path is not None:
        loaded = load_policy(path)
        console.print(f"{path}: valid, {len(loaded.rules)} rules ({loaded.version})", markup=False)
        return
    settings = load_settings()
    if settings.policy_file:
        sys.stdout.write(settings.policy_file.read_text(encoding="utf-8"))
    else:
        sys.stdout.write(default_policy_text())


def print_outcome(outcome: Outcome, as_json: bool) -> None:
    if as_json:
        out = {
            "decision": outcome.decision,
            "reasons": [
                {"rule": r.rule, "message": r.message, "evidence": r.evidence}
                for r in outcome.reasons
            ],
        }
        sys.stdout.write(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
        return
    console.print(f"decision: {outcome.decision.upper()} ({outcome.policy})", markup=False)
    for reason in outcome.reasons:
        console.print(f"- {reason.rule} [{reason.decision}]: {reason.message}", markup=False)
        for key, value in reason.evidence.items():
            console.print(f"    {key}: {json.dumps(value, ensure_ascii=False)}", markup=False)


@app.command("check")
def check(
    dossier_path: Path = typer.Argument(..., metavar="DOSSIER.json"),
    gpu_model: str = typer.Option(..., "--gpu-model"),
    gpus: int = typer.Option(..., min=1),
    hours: float = typer.Option(..., min=0.001),
    facility_country: str | None = typer.Option(None, "--facility-country"),
    as_of: str | None = typer.Option(None, "--as-of", help="YYYY-MM-DD; default today"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Decide a scenario without creating anything."""
    try:
        data = json.loads(dossier_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise FileFormatError(str(dossier_path), [(str(dossier_path), str(exc))]) from exc
    dossier = parse_dossier(data, str(dossier_path))
    try:
        day = date.fromisoformat(as_of) if as_of else None
    except ValueError as exc:
        raise GpurentError(f"--as-of {as_of!r} is not a date (YYYY-MM-DD)") from exc
    settings = load_settings()
    with open_session() as session:
        outcome = decide_request(
            session,
            settings,
            dossier,
            gpu_model=gpu_model,
            gpus=gpus,
            hours=Decimal(str(hours)),
            facility_country=facility_country,
            as_of=day,
        )
    print_outcome(outcome, as_json)


@app.command("rescreen")
def rescreen() -> None:
    """Screen every customer again against the lists in force."""
    run_rescreen()


def run_rescreen(
    quiet: bool = False, changed: tuple[list[ListEntry], set[str]] | None = None
) -> None:
    settings = load_settings()
    with (
        open_session() as session,
        Progress(console=err_console, transient=True, disable=quiet) as bar,
    ):
        task = bar.add_task("rescreening customers", total=None)
        report = monitoring.rescreen_all(
            session,
            policy_for(settings),
            settings.screening_threshold,
            hold=timedelta(hours=settings.review_hold_hours),
            actor=cli_actor(),
            progress=lambda done, total: bar.update(task, completed=done, total=total),
            changed=changed,
        )
    if quiet:
        return
    console.print(
        f"rescreened {report.screened} customer(s) ({report.unaffected} against the changes "
        f"only): {report.changed} changed standing; "
        f"newly denied: {', '.join(report.newly_denied) or 'none'}; "
        f"leases held {report.held_leases or 'none'}, flagged {report.flagged_leases or 'none'}",
        markup=False,
    )


def _review_row(review: Review, now: datetime) -> dict[str, Any]:
    return {
        "id": review.id,
        "kind": review.kind,
        "organization_id": review.organization_id,
        "lease_id": review.lease_id,
        "dossier_change_id": review.dossier_change_id,
        "status": review.status,
        "causes": review.causes or [],
        "four_eyes": review.four_eyes,
        "assignee": review.assignee,
        "due_at": review.due_at.isoformat() if review.due_at else None,
        "overdue": reviews.is_overdue(review, now),
        "hold_until": review.hold_until.isoformat() if review.hold_until else None,
        "first_approved_by": review.first_approved_by,
        "decided_by": review.decided_by,
        "reason": review.reason,
    }


def _remote_row(review: ReviewOut) -> dict[str, Any]:
    """A review from the API, in the shape the local commands print."""
    row = review.model_dump(mode="json")
    return {k: row[k] for k in _ROW_KEYS} | {
        "causes": review.causes or [],
        "due_at": review.due_at.isoformat() if review.due_at else None,
        "hold_until": review.hold_until.isoformat() if review.hold_until else None,
    }


_ROW_KEYS = (
    "id", "kind", "organization_id", "lease_id", "dossier_change_id", "status", "causes",
    "four_eyes", "assignee", "due_at", "overdue", "hold_until", "first_approved_by",
    "decided_by", "reason",
)  # fmt: skip


@review_app.command("list")
def list_reviews(
    status: str = typer.Option(
        "pending",
        help="pending (open or awaiting a second approval), open, awaiting_second_approval, "
        "approved, denied, expired, superseded or all",
    ),
    overdue: bool = typer.Option(False, "--overdue", help="only pending ones past due"),
    as_json: bool = JSON_OPTION,
    output: OutputFormat | None = OUTPUT_OPTION,
    wide: bool = WIDE_OPTION,
) -> None:
    """The review queue; overdue cases are marked."""
    now = utcnow()
    api = remote.client()
    if api is not None:
        queue = api.reviews(None if status == "all" else status, overdue=overdue)
        out = [_remote_row(r) for r in queue]
    else:
        with open_session() as session:
            rows = reviews.list_reviews(
                session, None if status == "all" else status, overdue=overdue, now=now
            )
            out = [_review_row(r, now) for r in rows]
    show_table(out, out, REVIEW_COLUMNS, output_format(as_json, output), wide)


def _due(row: dict[str, Any]) -> str:
    due = when(datetime.fromisoformat(row["due_at"])) if row["due_at"] else "-"
    return due + (" OVERDUE" if row["overdue"] else "")


REVIEW_COLUMNS: list[Column[dict[str, Any]]] = [
    Column("id", lambda r: str(r["id"]), right=True),
    Column("kind", lambda r: r["kind"]),
    Column("status", lambda r: r["status"]),
    Column("org", lambda r: str(r["organization_id"]), right=True),
    Column("lease", lambda r: str(r["lease_id"] or "-"), right=True),
    Column("due", _due),
    Column("assignee", lambda r: r["assignee"] or "-", priority=1),
    Column("4 eyes", lambda r: "yes" if r["four_eyes"] else "", priority=2),
    Column("causes", lambda r: ", ".join(r["causes"]), priority=3, fold=True),
]


@review_app.command("show")
def show_review(review_id: int, as_json: bool = JSON_OPTION) -> None:
    """A case: its causes' evidence, history and (a dossier change) the diff."""
    api = remote.client()
    if api is not None:
        detail = api.review(review_id)
        out = _remote_row(detail)
        out["reasons"] = detail.reasons
        out["history"] = [
            {"at": e.at.isoformat(), "actor": e.actor, "kind": e.kind, "detail": e.detail}
            for e in detail.history
        ]
        if detail.dossier_change is not None:
            out["diff"] = detail.dossier_change.diff
        _print_review(out, as_json)
        return
    with open_session() as session:
        review = reviews.get_review(session, review_id)
        decisions = [
            d
            for d in service.decisions(session, review.organization_id)
            if d.id == review.decision_id
        ]
        out = _review_row(review, utcnow())
        out["reasons"] = decisions[0].reasons if decisions else []
        out["history"] = [
            {"at": e.at.isoformat(), "actor": e.actor, "kind": e.kind, "detail": e.detail}
            for e in reviews.history(session, review_id)
        ]
        if review.dossier_change_id is not None:
            change = service.get_dossier_change(session, review.dossier_change_id)
            out["diff"], out["lifts"] = change.diff, change.standing_reasons
    _print_review(out, as_json)


def _print_review(out: dict[str, Any], as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
        return
    for key, value in out.items():
        console.print(f"{key}: {json.dumps(value, ensure_ascii=False)}", markup=False)


def _decide(review_id: int, approve: bool, reason: str) -> None:
    api = remote.client()
    if api is not None:
        decide = api.approve_review if approve else api.deny_review
        console.print(f"review {review_id}: {decide(review_id, reason).status}", markup=False)
        return
    settings = load_settings()
    with open_session() as session:
        review = service.decide_review(
            session,
            review_id,
            approve=approve,
            actor=cli_actor(),
            reason=reason,
            policy=policy_for(settings),
            threshold=settings.screening_threshold,
        )
        console.print(f"review {review.id}: {review.status}", markup=False)


@review_app.command("approve")
def approve(review_id: int, reason: str = typer.Option(..., help="why (recorded)")) -> None:
    """Approve; a four-eyes case needs a second approval by another officer."""
    _decide(review_id, True, reason)


@review_app.command("deny")
def deny(review_id: int, reason: str = typer.Option(..., help="why (recorded)")) -> None:
    _decide(review_id, False, reason)


@review_app.command("claim")
def claim(review_id: int) -> None:
    """Take the case yourself."""
    api = remote.client()
    if api is not None:
        taken = api.claim_review(review_id)
        console.print(f"review {taken.id}: assigned to {taken.assignee}", markup=False)
        return
    with open_session() as session:
        review = reviews.claim(session, review_id, actor=cli_actor())
        console.print(f"review {review.id}: assigned to {review.assignee}", markup=False)


@review_app.command("assign")
def assign(review_id: int, user: str = typer.Argument(..., help="a compliance officer")) -> None:
    """Hand the case to another compliance officer."""
    api = remote.client()
    if api is not None:
        handed = api.assign_review(review_id, user)
        console.print(f"review {handed.id}: assigned to {handed.assignee}", markup=False)
        return
    with open_session() as session:
        review = reviews.assign(session, review_id, user=user, actor=cli_actor())
        console.print(f"review {review.id}: assigned to {review.assignee}", markup=False)


@review_app.command("note")
def note(review_id: int, text: str) -> None:
    """Add a note to the case's history."""
    api = remote.client()
    if api is not None:
        api.note_review(review_id, text)
        console.print(f"review {review_id}: note added", markup=False)
        return
    with open_session() as session:
        reviews.note(session, review_id, text=text, actor=cli_actor())
        console.print(f"review {review_id}: note added", markup=False)


@app.command("clear")
def clear(
    organization: str,
    entry: str = typer.Argument(..., help="the list entry's id"),
    reason: str = typer.Option(..., help="why it is a false positive (recorded)"),
    list_name: str | None = typer.Option(None, "--list", help="when the id is on several lists"),
) -> None:
    """Clear a possible match as a false positive for this customer."""
    settings = load_settings()
    with open_session() as session:
        org = get_organization(session, organization)
        clearance = service.clear_possible_match(
            session,
            org,
            entry,
            list_name=list_name,
            reason=reason,
            actor=cli_actor(),
            policy=policy_for(settings),
            threshold=settings.screening_threshold,
        )
        standing = service.standing_of(session, org.id)
        console.print(
            f"clearance {clearance.id}: {clearance.listed_name} ({clearance.list_name}) "
            f"cleared for {org.name}; standing {standing.decision if standing else 'none'}",
            markup=False,
        )


@app.command("unclear")
def unclear(
    organization: str,
    entry: str = typer.Argument(..., help="the list entry's id"),
    reason: str = typer.Option(..., help="why the clearance is withdrawn (recorded)"),
) -> None:
    """Withdraw a clearance: the pair fires again."""
    settings = load_settings()
    with open_session() as session:
        org = get_organization(session, organization)
        found = [c for c in clearances.in_force(session, org.id) if c.entry_id == entry]
        if not found:
            raise NotFoundError(f"no clearance of entry {entry} for {org.name}")
        clearance = service.undo_clearance(
            session,
            org.id,
            found[0].id,
            reason=reason,
            actor=cli_actor(),
            policy=policy_for(settings),
            threshold=settings.screening_threshold,
        )
        console.print(f"clearance {clearance.id} undone", markup=False)


@app.command("clearances")
def list_clearances(organization: str, as_json: bool = JSON_OPTION) -> None:
    """Every clearance of a customer (undone ones too)."""
    with open_session() as session:
        org = get_organization(session, organization)
        out = [
            {
                "id": c.id,
                "list": c.list_name,
                "entry_id": c.entry_id,
                "listed_name": c.listed_name,
                "reason": c.reason,
                "cleared_by": c.cleared_by,
                "cleared_at": c.cleared_at.isoformat(),
                "undone_by": c.undone_by,
                "undone_at": c.undone_at.isoformat() if c.undone_at else None,
            }
            for c in clearances.history(session, org.id)
        ]
    if as_json:
        sys.stdout.write(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
        return
    table = Table("id", "entry", "listed name", "reason", "cleared by", "undone by")
    for c in out:
        table.add_row(
            str(c["id"]),
            str(c["entry_id"]),
            str(c["listed_name"]),
            str(c["reason"]),
            str(c["cleared_by"]),
            str(c["undone_by"] or ""),
        )
    console.print(table)


@audit_app.command("verify")
def verify(as_json: bool = JSON_OPTION) -> None:
    """Check the hash chain: any changed, deleted or reordered record is named."""
    api = remote.client()
    if api is not None:
        result = api.audit_verify()
        checked = int(result["records"])
        problems = [audit.Problem(p["seq"], p["record_id"], p["what"]) for p in result["problems"]]
    else:
        with open_session() as session:
            audit.seal(session)
            checked, problems = audit.verify(session)
    if as_json:
        out = {
            "records": checked,
            "intact": not problems,
            "problems": [
                {"seq": p.seq, "record_id": p.record_id, "what": p.what} for p in problems
            ],
        }
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
    elif problems:
        for p in problems:
            where = f"record {p.seq}" if p.seq is not None else "audit log"
            where += f" (id {p.record_id})" if p.record_id else ""
            console.print(f"{where}: {p.what}", markup=False)
    else:
        console.print(f"audit log intact: {checked} records", markup=False)
    if problems:
        raise typer.Exit(1)


@audit_app.command("export")
def export() -> None:
    """Print the sealed audit log as JSON lines, in chain order."""
    api = remote.client()
    if api is not None:
        sys.stdout.write(api.audit_export())
        return
    with open_session() as session:
        audit.seal(session)
        for item in audit.export(session):
            sys.stdout.write(json.dumps(item, ensure_ascii=False) + "\n")
        audit.write_checkpoint(session)
