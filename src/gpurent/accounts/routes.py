"""Organizations and tokens API."""

from __future__ import annotations

from fastapi import APIRouter, status

from gpurent.accounts import service
from gpurent.accounts.roles import GRANTS, Permission
from gpurent.accounts.schemas import (
    OrganizationIn,
    OrganizationOut,
    TokenIn,
    TokenOut,
    WhoAmIOut,
)
from gpurent.accounts.service import Principal
from gpurent.api.auth import principal_with
from gpurent.api.deps import SessionDep
from gpurent.api.params import IdPath
from gpurent.compliance.service import standing_of
from gpurent.errors import NotFoundError

router = APIRouter(prefix="/v1", tags=["accounts"])


def _out(session: SessionDep, org: object) -> OrganizationOut:
    out = OrganizationOut.model_validate(org)
    standing = standing_of(session, out.id)
    out.standing = standing.decision if standing else None
    return out


@router.get("/organizations")
def list_organizations(
    session: SessionDep, who: Principal = principal_with(Permission.LEASES_READ)
) -> list[OrganizationOut]:
    """Staff see every organization; a renter its own."""
    orgs = service.list_organizations(session)
    if who.own_organization_only:
        orgs = [o for o in orgs if o.id == who.organization_id]
    return [_out(session, o) for o in orgs]


@router.get("/organizations/{organization_id}")
def get_organization(
    organization_id: IdPath,
    session: SessionDep,
    who: Principal = principal_with(Permission.LEASES_READ),
) -> OrganizationOut:
    if who.own_organization_only and organization_id != who.organization_id:
        raise NotFoundError(f"no organization {organization_id}")
    return _out(session, service.get_organization(session, organization_id))


@router.post("/organizations", status_code=status.HTTP_201_CREATED)
def create_organization(
    body: OrganizationIn,
    session: SessionDep,
    who: Principal = principal_with(Permission.ORGS_WRITE),
) -> OrganizationOut:
    org = service.create_organization(session, body.name, body.kind, body.country, actor=who.actor)
    return _out(session, org)


@router.post("/tokens", status_code=status.HTTP_201_CREATED)
def create_token(
    body: TokenIn, session: SessionDep, who: Principal = principal_with(Permission.ORGS_WRITE)
) -> TokenOut:
    org = service.get_organization(session, body.organization)
    token = service.create_token(session, org, body.user, body.role, actor=who.actor)
    return TokenOut(token=token, user=body.user, role=body.role, organization=org.name)


@router.get("/whoami")
def whoami(who: Principal = principal_with(Permission.WHOAMI)) -> WhoAmIOut:
    """The caller's user, organization and role, and what that role may do."""
    permissions = [p.value for p, roles in GRANTS.items() if who.role in roles]
    return WhoAmIOut(
        user=who.user,
        organization=who.organization,
        organization_id=who.organization_id,
        role=who.role,
        permissions=permissions,
    )
