"""``gpurent org`` and ``gpurent token``: organizations, their records, and API tokens."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from gpurent.accounts import service
from gpurent.accounts.roles import Role
from gpurent.accounts.schemas import OrganizationOut
from gpurent.cli import remote
from gpurent.cli.common import JSON_OPTION, cli_actor, console, open_session
from gpurent.cli.render import (
    OUTPUT_OPTION,
    WIDE_OPTION,
    Column,
    OutputFormat,
    output_format,
    show_table,
    when,
)
from gpurent.client import GpurentClient
from gpurent.compliance import service as compliance
from gpurent.compliance.gate import policy_for
from gpurent.config import load_settings
from gpurent.errors import FileFormatError

org_app = typer.Typer(help="Organizations: customers and the operator.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens (stored hashed, shown once).", no_args_is_help=True)


@org_app.command("create")
def create(
    name: str,
    kind: str = typer.Option("customer", help="customer or operator"),
    country: str | None = typer.Option(None, help="headquarters, ISO alpha-2"),
) -> None:
    """Create an organization."""
    api = remote.client()
    if api is not None:
        made = api.create_organization(name, kind, country)
        console.print(f"organization {made.id}: {made.name} ({made.kind})", markup=False)
        return
    with open_session() as session:
        org = service.create_organization(session, name, kind, country, actor=cli_actor())
        console.print(f"organization {org.id}: {org.name} ({org.kind})", markup=False)


@org_app.command("list")
def list_orgs(
    as_json: bool = JSON_OPTION,
    output: OutputFormat | None = OUTPUT_OPTION,
    wide: bool = WIDE_OPTION,
) -> None:
    """Organizations with their screening standing (a renter: its own)."""
    api = remote.client()
    if api is not None:
        rows = api.organizations()
    else:
        with open_session() as session:
            rows = []
            for org in service.list_organizations(session):
                standing = compliance.standing_of(session, org.id)
                out = OrganizationOut.model_validate(org)
                out.standing = standing.decision if standing else None
                rows.append(out)
    show_table(rows, rows, ORG_COLUMNS, output_format(as_json, output), wide)


ORG_COLUMNS: list[Column[OrganizationOut]] = [
    Column("id", lambda o: str(o.id), right=True),
    Column("name", lambda o: o.name, fold=True),
    Column("standing", lambda o: o.standing or "-"),
    Column("kind", lambda o: o.kind, priority=1),
    Column("country", lambda o: o.country or "-", priority=2),
    Column("created", lambda o: when(o.created_at), priority=3),
]


@org_app.command("dossier")
def set_dossier(
    organization: str,
    path: Path = typer.Argument(..., help="the customer identification record (JSON)"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Store an organization's identification record and screen it."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise FileFormatError(str(path), [(str(path), str(exc))]) from exc
    api = remote.client()
    if api is not None:
        _remote_dossier(api, organization, data, as_json)
        return
    settings = load_settings()
    with open_session() as session:
        org = service.get_organization(session, organization)
        result = compliance.put_dossier(
            session,
            org,
            data,
            actor=cli_actor(),
            policy=policy_for(settings),
            threshold=settings.screening_threshold,
            sla_hours=settings.review_sla_hours,
        )
    waiting = f"review {result.review_id}" if result.awaits_review else None
    if as_json:
        out = {"decision": result.decision, "reasons": result.reasons, "awaits_review": waiting}
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
        return
    console.print(f"{organization}: standing {result.decision}", markup=False)
    for reason in result.reasons:
        console.print(f"  {reason['rule']}: {reason['message']}", markup=False)
    if waiting:
        console.print(
            f"  the new record ({result.submitted.decision}) awaits {waiting}: the standing "
            "above holds until a compliance officer approves it",
            markup=False,
        )


def _remote_dossier(
    api: GpurentClient, organization: str, data: dict[str, Any], as_json: bool
) -> None:
    standing = api.put_dossier(api.organization(organization).id, data)
    pending = standing.pending_change
    waiting = f"review {pending.review_id}" if pending else None
    if as_json:
        out = {"decision": standing.decision, "reasons": standing.reasons, "awaits_review": waiting}
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
        return
    console.print(f"{organization}: standing {standing.decision}", markup=False)
    for reason in standing.reasons:
        console.print(f"  {reason['rule']}: {reason['message']}", markup=False)
    if waiting:
        console.print(
            f"  the new record awaits {waiting}: the standing above holds until a "
            "compliance officer approves it",
            markup=False,
        )


@token_app.command("create")
def create_token(
    organization: str = typer.Option(..., "--org", help="organization name or id"),
    user: str = typer.Option(..., help="user name (created if new)"),
    role: Role = typer.Option(..., help="renter, operator, compliance or admin"),
) -> None:
    """Create a token and print it once."""
    api = remote.client()
    if api is not None:
        sys.stdout.write(api.create_token(organization, user, role).token + "\n")
        return
    with open_session() as session:
        org = service.get_organization(session, organization)
        token = service.create_token(session, org, user, role, actor=cli_actor())
    sys.stdout.write(token + "\n")
