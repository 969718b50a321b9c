"""``gpurent compliance``, ``gpurent review`` and ``gpurent audit``."""

from __future__ import annotations

import json
import sys
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import typer
from rich.progress import Progress
from rich.table import Table

from gpurent.audit import service as audit
from gpurent.cli.common import JSON_OPTION, cli_actor, console, err_console, open_session
from gpurent.compliance import monitoring, reviews, service
from gpurent.compliance.dossier import dossier_schema, parse_dossier
from gpurent.compliance.gate import decide_request, policy_for
from gpurent.compliance.policy import Outcome, default_policy_text, load_policy
from gpurent.config import load_settings
from gpurent.errors import FileFormatError, GpurentError
from gpurent.screening import ListEntry

app = typer.Typer(help="Customer identification, screening and the policy.", no_args_is_help=True)
review_app = typer.Typer(help="The review queue of held leases.", no_args_is_help=True)
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


@review_app.command("list")
def list_reviews(
    status: str = typer.Option("open", help="open, approved, denied, expired or all"),
    as_json: bool = JSON_OPTION,
) -> None:
    with open_session() as session:
        rows = reviews.list_reviews(session, None if status == "all" else status)
        out = [
            {
                "id": r.id,
                "organization_id": r.organization_id,
                "lease_id": r.lease_id,
                "status": r.status,
                "hold_until": r.hold_until.isoformat(),
                "decided_by": r.decided_by,
                "reason": r.reason,
            }
            for r in rows
        ]
    if as_json:
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
        return
    table = Table("id", "organization", "lease", "status", "hold until", "decided by", "reason")
    for r in out:
        table.add_row(
            *(
                str(r[k] or "")
                for k in (
                    "id",
                    "organization_id",
                    "lease_id",
                    "status",
                    "hold_until",
                    "decided_by",
                    "reason",
                )
            )
        )
    console.print(table)


@review_app.command("show")
def show_review(review_id: int, as_json: bool = JSON_OPTION) -> None:
    with open_session() as session:
        review = reviews.get_review(session, review_id)
        decisions = [
            d
            for d in service.decisions(session, review.organization_id)
            if d.id == review.decision_id
        ]
        out = {
            "id": review.id,
            "organization_id": review.organization_id,
            "lease_id": review.lease_id,
            "status": review.status,
            "hold_until": review.hold_until.isoformat(),
            "reasons": decisions[0].reasons if decisions else [],
            "decided_by": review.decided_by,
            "reason": review.reason,
        }
    if as_json:
        sys.stdout.write(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
        return
    for key, value in out.items():
        console.print(f"{key}: {json.dumps(value, ensure_ascii=False)}", markup=False)


def _decide(review_id: int, approve: bool, reason: str) -> None:
    with open_session() as session:
        review = reviews.decide(
            session, review_id, approve=approve, actor=cli_actor(), reason=reason
        )
        console.print(f"review {review.id}: {review.status}", markup=False)


@review_app.command("approve")
def approve(review_id: int, reason: str = typer.Option(..., help="why (recorded)")) -> None:
    _decide(review_id, True, reason)


@review_app.command("deny")
def deny(review_id: int, reason: str = typer.Option(..., help="why (recorded)")) -> None:
    _decide(review_id, False, reason)


@audit_app.command("verify")
def verify(as_json: bool = JSON_OPTION) -> None:
    """Check the hash chain: any changed, deleted or reordered record is named."""
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
            where = f"record {p.seq}" + (f" (id {p.record_id})" if p.record_id else "")
            console.print(f"{where}: {p.what}", markup=False)
    else:
        console.print(f"audit log intact: {checked} records", markup=False)
    if problems:
        raise typer.Exit(1)


@audit_app.command("export")
def export() -> None:
    """Print the sealed audit log as JSON lines, in chain order."""
    with open_session() as session:
        audit.seal(session)
        for item in audit.export(session):
            sys.stdout.write(json.dumps(item, ensure_ascii=False) + "\n")
