"""Aggregate ownership of a customer by listed parties (OFAC's 50% rule, BIS's Affiliates
rule): multiply shares along each chain, add across chains and across listed owners.

Pure: who is listed is decided by the `listed` callback (the screening engine in use).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from gpurent.compliance.dossier import Dossier, Owner

HUNDRED = Decimal(100)


@dataclass(frozen=True)
class ListedParty:
    """What a list says about a party found in the ownership tree."""

    list_name: str
    entry_id: str
    listed_name: str
    regimes: frozenset[str]  # "ofac", "bis", "other": which ownership rules apply
    score: float


@dataclass(frozen=True)
class Holding:
    """A chain from the customer to a listed owner, and the share it carries."""

    path: tuple[str, ...]  # owner names, from the customer's direct owner to the listed one
    percents: tuple[Decimal | None, ...]
    share: Decimal | None  # percent of the customer; None when a link's share is unknown
    listed: ListedParty

    def describe(self) -> str:
        links = " -> ".join(
            f"{name} ({'?' if p is None else f'{p:g}%'})"
            for name, p in zip(self.path, self.percents, strict=True)
        )
        share = "unknown" if self.share is None else f"{self.share:.4g}%"
        return f"{links}: {share} of the customer"


def _applies(holding: Holding, regimes: Sequence[str] | None) -> bool:
    return regimes is None or not holding.listed.regimes.isdisjoint(regimes)


@dataclass
class OwnershipResult:
    holdings: list[Holding] = field(default_factory=list)

    def aggregate(self, regimes: Sequence[str] | None = None) -> Decimal:
        """Percent of the customer held by listed parties (known shares only)."""
        total = sum(
            (h.share for h in self.holdings if h.share is not None and _applies(h, regimes)),
            Decimal(0),
        )
        return min(total, HUNDRED)

    def unknown(self, regimes: Sequence[str] | None = None) -> list[Holding]:
        return [h for h in self.holdings if h.share is None and _applies(h, regimes)]

    def of(self, regimes: Sequence[str] | None = None) -> list[Holding]:
        return [h for h in self.holdings if _applies(h, regimes)]


Listed = Callable[[str, str | None], ListedParty | None]


def _walk(
    owners: Sequence[Owner],
    listed: Listed,
    path: tuple[str, ...],
    percents: tuple[Decimal | None, ...],
    share: Decimal | None,
    result: OwnershipResult,
) -> None:
    for owner in owners:
        held = None if share is None or owner.percent is None else share * owner.percent / HUNDRED
        chain, chain_percents = (*path, owner.name), (*percents, owner.percent)
        party = listed(owner.name, owner.country)
        if party is not None:
            # A listed owner counts whole; who owns it in turn does not change that.
            result.holdings.append(Holding(chain, chain_percents, held, party))
        else:
            _walk(owner.owners, listed, chain, chain_percents, held, result)


def analyze(dossier: Dossier, listed: Listed) -> OwnershipResult:
    result = OwnershipResult()
    _walk(dossier.owners, listed, (), (), HUNDRED, result)
    counted = {h.path[-1].casefold() for h in result.holdings}
    for owner in dossier.beneficial_owners:
        party = listed(owner.name, owner.country)
        if party is not None and owner.name.casefold() not in counted:
            result.holdings.append(Holding((owner.name,), (owner.percent,), owner.percent, party))
            counted.add(owner.name.casefold())
    parent = dossier.ultimate_parent
    if parent is not None and parent.name.casefold() not in counted:
        party = listed(parent.name, parent.headquarters_country)
        if party is not None:
            # The dossier names the parent but not its share: unknown until shown.
            result.holdings.append(Holding((parent.name,), (None,), None, party))
    return result
