"""Create organizations, users and tokens; find who a token belongs to."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from gpurent.accounts.models import ApiToken, Organization, User
from gpurent.accounts.roles import OWN_ORGANIZATION_ONLY, Role
from gpurent.audit import service as audit
from gpurent.bounds import fits_id
from gpurent.errors import ConflictError, InvalidInputError, NotFoundError

TOKEN_PREFIX = "gpr_"
KINDS = ("customer", "operator")


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return f"{TOKEN_PREFIX}{secrets.token_urlsafe(32)}"


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user of an organization, with a role."""

    user_id: int
    user: str
    organization_id: int
    organization: str
    role: Role

    @property
    def actor(self) -> str:
        return f"{self.user}@{self.organization}"

    @property
    def own_organization_only(self) -> bool:
        return self.role in OWN_ORGANIZATION_ONLY


def create_organization(
    session: Session, name: str, kind: str, country: str | None, *, actor: str
) -> Organization:
    if kind not in KINDS:
        raise InvalidInputError(f"kind must be one of {', '.join(KINDS)}", fields=["kind"])
    org = Organization(name=name, kind=kind, country=country.upper() if country else None)
    session.add(org)
    try:
        session.flush()
    except IntegrityError as exc:
        session.rollback()
        raise ConflictError(f"organization {name!r} exists", fields=["name"]) from exc
    audit.record(session, actor, "organization.create", f"organization:{org.id}", {"name": name})
    session.commit()
    return org


def get_organization(session: Session, name_or_id: str | int) -> Organization:
    statement = select(Organization)
    if isinstance(name_or_id, int) or str(name_or_id).isdigit():
        if not fits_id(name_or_id):  # past the id column: no such organization, no overflow
            raise NotFoundError(f"no organization {str(name_or_id)[:40]}")
        statement = statement.where(Organization.id == int(name_or_id))
    else:
        statement = statement.where(Organization.name == name_or_id)
    org = session.scalars(statement).first()
    if org is None:
        raise NotFoundError(f"no organization {name_or_id}")
    return org


def list_organizations(session: Session) -> list[Organization]:
    return list(session.scalars(select(Organization).order_by(Organization.id)))


def create_token(
    session: Session,
    organization: Organization,
    user_name: str,
    role: Role,
    *,
    actor: str,
    token: str | None = None,
) -> str:
    """A new token for the user (created with the role if new); returns it, once."""
    user = session.scalars(select(User).where(User.name == user_name)).first()
    if user is None:
        user = User(organization_id=organization.id, name=user_name, role=role)
        session.add(user)
        session.flush()
    elif user.organization_id != organization.id or user.role != role:
        raise ConflictError(
            f"user {user_name!r} exists in another organization or with another role",
            fields=["user"],
        )
    if role is not Role.RENTER and organization.kind != "operator":
        raise InvalidInputError(
            f"a {role} belongs to the operator's organization, not a customer", fields=["role"]
        )
    token = token or new_token()
    record = ApiToken(user_id=user.id, digest=digest(token), prefix=token[:10])
    session.add(record)
    session.flush()
    audit.record(
        session,
        actor,
        "token.create",
        f"user:{user.id}",
        {
            "user": user_name,
            "role": role.value,
            "organization": organization.name,
            "prefix": record.prefix,
        },
    )
    session.commit()
    return token


def principal_for(session: Session, token: str) -> Principal | None:
    row = session.scalars(
        select(ApiToken)
        .where(ApiToken.digest == digest(token), ApiToken.revoked_at.is_(None))
        .options(joinedload(ApiToken.user).joinedload(User.organization))
    ).first()
    if row is None or row.user.organization is None:  # a user whose organization is gone
        return None
    user = row.user
    return Principal(user.id, user.name, user.organization_id, user.organization.name, user.role)


def operator_organization(session: Session) -> Organization | None:
    return session.scalars(
        select(Organization).where(Organization.kind == "operator").order_by(Organization.id)
    ).first()


SYSTEM_ACTORS = frozenset({"worker"})  # shown to renters as they are


def actor_as_seen_by(session: Session, actor: str, who: Principal) -> str:
    """Who acted, as `who` may see it: a renter sees its own users and the worker by name,
    another customer's user as "another customer", and anyone else as "operator"."""
    if not who.own_organization_only or actor in SYSTEM_ACTORS:
        return actor
    if actor.endswith(f"@{who.organization}"):
        return actor
    # "user@organization", where either part may itself hold an "@".
    suffixes = [actor[i + 1 :] for i, c in enumerate(actor) if c == "@"]
    kinds = set(session.scalars(select(Organization.kind).where(Organization.name.in_(suffixes))))
    return "another customer" if kinds - {"operator"} else "operator"
