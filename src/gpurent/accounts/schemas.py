from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from gpurent.accounts.roles import Role
from gpurent.bounds import CountryCode, Reference


class OrganizationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    kind: str = Field(default="customer", pattern="^(customer|operator)$")
    country: CountryCode | None = None


class OrganizationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    kind: str
    country: str | None
    created_at: datetime
    standing: str | None = None


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    organization: Reference
    user: str = Field(min_length=1, max_length=200)
    role: Role


class TokenOut(BaseModel):
    token: str = Field(description="shown once; only its digest is stored")
    user: str
    role: Role
    organization: str


class WhoAmIOut(BaseModel):
    """The caller, as the server sees its token (``gpurent whoami``)."""

    user: str
    organization: str
    organization_id: int
    role: Role
    permissions: list[str] = Field(description="what this role may do (roles.py)")
