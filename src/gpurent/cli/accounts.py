"""``gpurent org`` and ``gpurent token``: organizations, their records, and API tokens."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.table import Table

from gpurent.accounts import service
from gpurent.accounts.roles import Role
from gpurent.cli.common import JSON_OPTION, cli_actor, console, open_session
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
    with open_session() as session:
        org = service.create_organization(session, name, kind, country, actor=cli_actor())
        console.print(f"organization {org.id}: {org.name} ({org.kind})", markup=False)


@org_app.command("list")
def list_orgs(as_json: bool = JSON_OPTION) -> None:
    """Organizations with their screening standing."""
    with open_session() as session:
        rows = []
        for org in service.list_organizations(session):
            standing = compliance.standing_of(session, org.id)
            rows.append(
                {
                    "id": org.id,
                    "name": org.name,
                    "kind": org.kind,
                    "country": org.country,
                    "standing": standing.decision if standing else None,
                }
            )
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    table = Table("id", "name", "kind", "country", "standing")
    for row in rows:
        table.add_row(*(str(row[k] or "") for k in ("id", "name", "kind", "country", "standing")))
    console.print(table)


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
    settings = load_settings()
    with open_session() as session:
        org = service.get_organization(session, organization)
        _, outcome = compliance.put_dossier(
            session,
            org,
            data,
            actor=cli_actor(),
            policy=policy_for(settings),
            threshold=settings.screening_threshold,
        )
    if as_json:
        out = {"decision": outcome.decision, "reasons": [r.full() for r in outcome.reasons]}
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
        return
    console.print(f"{organization}: standing {outcome.decision}", markup=False)
    for reason in outcome.reasons:
        console.print(f"  {reason.rule}: {reason.message}", markup=False)


@token_app.command("create")
def create_token(
    organization: str = typer.Option(..., "--org", help="organization name or id"),
    user: str = typer.Option(..., help="user name (created if new)"),
    role: Role = typer.Option(..., help="renter, operator, compliance or admin"),
) -> None:
    """Create a token and print it once."""
    with open_session() as session:
        org = service.get_organization(session, organization)
        token = service.create_token(session, org, user, role, actor=cli_actor())
    sys.stdout.write(token + "\n")
