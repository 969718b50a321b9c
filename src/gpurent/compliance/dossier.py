"""The customer identification record (dossier), after the proposed US Customer
Identification Program for IaaS providers (89 FR 5698)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from ipaddress import IPv4Address, IPv6Address
from typing import Annotated, Any

import pycountry
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from gpurent.errors import InvalidInputError


def _country(value: str) -> str:
    code = value.strip().upper()
    if pycountry.countries.get(alpha_2=code) is None:
        raise ValueError(f"{value!r} is not an ISO 3166 alpha-2 country code")
    return code


CountryCode = Annotated[str, AfterValidator(_country)]
Percent = Annotated[Decimal, Field(ge=0, le=100)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Registration(_Strict):
    number: str = Field(min_length=1)
    jurisdiction: str = Field(min_length=1, description="country code or register name")


class Address(_Strict):
    street: str = Field(min_length=1)
    city: str = Field(min_length=1)
    country: CountryCode


class UltimateParent(_Strict):
    name: str = Field(min_length=1)
    headquarters_country: CountryCode


class Owner(_Strict):
    name: str = Field(min_length=1)
    country: CountryCode | None = None
    percent: Percent | None = Field(description="share held; null when unknown")
    owners: list[Owner] = Field(default_factory=list, description="who owns this owner")


class BeneficialOwner(_Strict):
    name: str = Field(min_length=1)
    country: CountryCode | None = None
    percent: Percent | None = None


class Licence(_Strict):
    number: str = Field(min_length=1)
    scope: str = Field(min_length=1, description='e.g. "3A090"')
    expires: date


class Dossier(_Strict):
    """Who the customer is, who owns it, how it pays and connects, what it will do."""

    legal_name: str = Field(min_length=1, max_length=500)
    native_name: str | None = Field(default=None, description="in its own script")
    aliases: list[str] = Field(default_factory=list)
    registration: Registration | None = None
    incorporation_country: CountryCode
    headquarters_country: CountryCode
    addresses: list[Address] = Field(default_factory=list)
    ultimate_parent: UltimateParent | None = None
    owners: list[Owner] = Field(default_factory=list)
    beneficial_owners: list[BeneficialOwner] = Field(default_factory=list)
    emails: list[Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]] = Field(
        default_factory=list
    )
    phones: list[str] = Field(default_factory=list)
    payment_fingerprint: str | None = None
    access_ips: list[IPv4Address | IPv6Address] = Field(default_factory=list)
    end_use: str | None = None
    licences: list[Licence] = Field(default_factory=list)

    def names(self) -> list[str]:
        return [n for n in (self.legal_name, self.native_name, *self.aliases) if n]

    def related_parties(self) -> list[tuple[str, str, str | None]]:
        """(role, name, country) of every owner at every depth, beneficial owner and the
        ultimate parent."""
        parties: list[tuple[str, str, str | None]] = []

        def walk(owners: list[Owner]) -> None:
            for owner in owners:
                parties.append(("owner", owner.name, owner.country))
                walk(owner.owners)

        walk(self.owners)
        parties += [("beneficial owner", b.name, b.country) for b in self.beneficial_owners]
        if self.ultimate_parent is not None:
            parent = self.ultimate_parent
            parties.append(("ultimate parent", parent.name, parent.headquarters_country))
        return parties


def parse_dossier(data: Any, source: str = "dossier") -> Dossier:
    """A dossier, or InvalidInputError with the path of every problem."""
    try:
        return Dossier.model_validate(data)
    except ValidationError as exc:
        error = InvalidInputError(f"{source}: {exc.error_count()} problem(s)")
        error.items = [
            type(error.items[0])(
                "invalid",
                f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}",
                [".".join(str(p) for p in e["loc"])],
            )
            for e in exc.errors()
        ]
        raise error from exc


def dossier_schema() -> dict[str, Any]:
    return Dossier.model_json_schema()
