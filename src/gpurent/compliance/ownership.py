"""Ownership by the cascading test (OFAC's 50% rule and its FAQ 401; BIS's Affiliates
rule), one regime at a time.

A party is restricted under a regime when it is listed there, or when the shares held in
it by restricted owners add up to the threshold (50%) or more; an owner that is not
listed is restricted by the same test applied to its own owners, to any depth. A share
held by a restricted owner counts whole, a share held by one that is not restricted
counts nothing: shares are never multiplied to decide. The multiplied "economic
interest" is reported as evidence only.

Unknown shares: the test runs twice, once with every unknown share at nought and once
with each at the most it could be (what the known shares of that party leave of 100%,
or all of it when the dossier does not say through which chain the owner holds).
Restricted in the first run: restricted. Only in the second: undetermined, and the
unknown shares that could tip it are named.

One party is one node however often the dossier names it (matched to the same list
entry, or the same name): its owners are gathered from every place it appears, and a
share declared twice for the same owner counts once.

Pure: who is listed comes from the `listed` callback (the screening in use), what the
lists themselves say about a listed party's owners from `linked`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Any

from gpurent.compliance.dossier import Dossier, Owner

OWNERSHIP_METHOD = "cascading-50-v2"
HUNDRED = Decimal(100)
FIFTY = Decimal(50)
CUSTOMER = "customer"
REGIMES = ("ofac", "bis", "other")
MAX_BRANCHES = 50  # chains shown per listed party: a hostile dossier cannot make it explode
MAX_DEPTH = 64  # links followed along one chain for the economic interest (evidence only)
MAX_STEPS = 20_000  # stakes looked at while gathering one listed party's chains

# Where a share comes from. The last two say neither the share nor the chain.
DOSSIER, LIST, BENEFICIAL, PARENT = "dossier", "list", "beneficial owner", "ultimate parent"
_ANYWHERE = (BENEFICIAL, PARENT)


@dataclass(frozen=True)
class ListedParty:
    """What the lists say about a party found in the ownership tree."""

    list_name: str
    entry_id: str
    listed_name: str
    regimes: frozenset[str]  # "ofac", "bis", "other": whose ownership rule it brings
    score: float
    entries: tuple[tuple[str, str], ...] = ()  # (list, entry id) of every entry it matched

    @property
    def key(self) -> str:
        return f"entry:{self.list_name}:{self.entry_id}"


@dataclass(frozen=True)
class Party:
    key: str
    name: str  # as the dossier first names it (or the list, for owners only a list names)
    listed: ListedParty | None


@dataclass
class Stake:
    """A share `owner` holds in `held`, as declared (possibly more than once)."""

    owner: str
    held: str
    source: str
    declared: list[Decimal | None] = field(default_factory=list)
    relation: str = ""  # the list's words, for shares a list records
    economic: Decimal | None = None  # a beneficial owner's declared interest

    @property
    def known(self) -> list[Decimal]:
        return sorted({d for d in self.declared if d is not None})

    @property
    def anywhere(self) -> bool:
        return self.source in _ANYWHERE

    @property
    def is_known(self) -> bool:
        return not self.anywhere and bool(self.known)

    @property
    def low(self) -> Decimal:
        return self.known[0] if self.is_known else Decimal(0)

    def shown(self) -> str:
        if self.anywhere:
            interest = "" if self.economic is None else f" {_pct(self.economic)}%,"
            return f"{self.source}:{interest} chain not given"
        if not self.known:
            return "?"
        return " or ".join(f"{_pct(p)}%" for p in self.known)


def _pct(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _name_key(name: str) -> str:
    return "name:" + " ".join(name.casefold().split())


Listed = Callable[[str, str | None], ListedParty | None]
Linked = Callable[[ListedParty], Sequence[tuple[ListedParty, str]]]


def _no_links(party: ListedParty) -> Sequence[tuple[ListedParty, str]]:
    return ()


@dataclass(frozen=True)
class ListedOwner:
    """One listed party of the tree, however many branches reach it."""

    party: Party
    economic: Decimal  # the multiplied interest over the chains whose shares are known
    economic_incomplete: bool  # some chain has a share that is not known
    branches: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        listed = self.party.listed
        assert listed is not None
        interest = _pct(self.economic.quantize(Decimal("0.01")))
        return {
            "name": self.party.name,
            "listed_name": listed.listed_name,
            "list": listed.list_name,
            "entry_id": listed.entry_id,
            "regimes": sorted(listed.regimes),
            "economic_interest_percent": f"at least {interest}"
            if self.economic_incomplete
            else interest,
            "branches": list(self.branches),
        }


@dataclass(frozen=True)
class RegimeTest:
    """The cascading test of one regime, with what decided it."""

    regime: str
    threshold: Decimal
    status: str  # "restricted", "undetermined" or "clear"
    share: Decimal  # of the customer, held by restricted owners (unknown shares at nought)
    most: Decimal  # the most that share could be
    held_by: tuple[str, ...]
    intermediaries: tuple[str, ...]  # "Harbour Holdings is restricted: X holds 50%"
    undetermined: tuple[str, ...]  # intermediaries that may be restricted
    to_establish: tuple[str, ...]  # the unknown shares that could change the outcome
    listed: tuple[ListedOwner, ...]
    notes: tuple[str, ...]

    def summary(self) -> dict[str, str]:
        return {"status": self.status, "restricted_percent": _pct(self.share)}

    def evidence(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "method": OWNERSHIP_METHOD,
            "regime": self.regime,
            "status": self.status,
            "restricted_percent": _pct(self.share),
            "threshold_percent": _pct(self.threshold),
            "held_by_restricted": list(self.held_by),
            "restricted_intermediaries": list(self.intermediaries),
        }
        if self.status == "undetermined":
            out["at_most_percent"] = _pct(self.most)
            out["undetermined_intermediaries"] = list(self.undetermined)
            out["to_establish"] = list(self.to_establish)
        out["listed_parties"] = [o.as_dict() for o in self.listed]
        out["economic_interest_note"] = (
            "shares multiplied along each chain, for information: the decision follows the "
            "cascading test"
        )
        if self.notes:
            out["notes"] = list(self.notes)
        return out


@dataclass
class OwnershipGraph:
    """Every party of the customer's ownership and the shares between them."""

    parties: dict[str, Party] = field(default_factory=dict)
    stakes: dict[str, list[Stake]] = field(default_factory=dict)  # by the party held
    _tests: dict[tuple[str, Decimal], RegimeTest] = field(default_factory=dict, repr=False)
    _owners: dict[str, ListedOwner] = field(default_factory=dict, repr=False)

    def listed_parties(self, regimes: Sequence[str] | None = None) -> list[Party]:
        return [
            p
            for p in self.parties.values()
            if p.listed is not None
            and (regimes is None or not p.listed.regimes.isdisjoint(regimes))
        ]

    def test(self, regime: str, threshold: Decimal = FIFTY) -> RegimeTest:
        key = (regime, threshold)
        if key not in self._tests:
            self._tests[key] = _Cascade(self, regime, threshold).result()
        return self._tests[key]

    def listed_owners(self, regimes: Sequence[str] | None = None) -> list[ListedOwner]:
        return [self._listed_owner(p) for p in self.listed_parties(regimes)]

    def _listed_owner(self, party: Party) -> ListedOwner:
        if party.key not in self._owners:
            self._owners[party.key] = self._gather(party)
        return self._owners[party.key]

    def _gather(self, party: Party) -> ListedOwner:
        chains, truncated = self._chains(party.key)
        economic, incomplete = Decimal(0), truncated
        branches: list[str] = []
        for chain in chains:
            share: Decimal | None = HUNDRED
            for stake in chain:
                if stake.anywhere and stake.economic is not None:
                    share = None if share is None else share * stake.economic / HUNDRED
                elif not stake.is_known:
                    share = None
                elif share is not None:
                    share = share * stake.low / HUNDRED
            if share is None:
                incomplete = True
            else:
                economic += share
            if len(branches) < MAX_BRANCHES:
                branches.append(
                    " -> ".join(f"{self.parties[s.owner].name} ({s.shown()})" for s in chain)
                )
        return ListedOwner(party, min(economic, HUNDRED), incomplete, tuple(branches))

    def _chains(self, owner: str) -> tuple[list[list[Stake]], bool]:
        """The chains of stakes from the customer's direct owner out to `owner`, each
        party at most once (the dossier's order), and whether some were left out: a
        dossier that names parties again can describe exponentially many chains, so
        the walk has a budget (the chains are evidence; the test never walks them)."""
        chains: list[list[Stake]] = []
        budget, cut = [MAX_STEPS], [False]

        def walk(held: str, path: list[Stake], seen: set[str]) -> None:
            for stake in self.stakes.get(held, []):
                if stake.owner in seen:
                    continue
                budget[0] -= 1
                if budget[0] < 0 or len(path) >= MAX_DEPTH:
                    cut[0] = True
                    return
                chain = [*path, stake]
                if stake.owner == owner:
                    chains.append(chain)
                else:
                    walk(stake.owner, chain, seen | {stake.owner})

        walk(CUSTOMER, [], {CUSTOMER})
        return chains, cut[0]


class _Cascade:
    """The test for one regime: who is restricted for certain, who may be."""

    def __init__(self, graph: OwnershipGraph, regime: str, threshold: Decimal) -> None:
        self.graph, self.regime, self.threshold = graph, regime, threshold
        self.listed = {
            k
            for k, p in graph.parties.items()
            if k != CUSTOMER and p.listed is not None and regime in p.listed.regimes
        }

    def share(self, held: str, restricted: Collection[str], most: bool) -> Decimal:
        stakes = self.graph.stakes.get(held, [])
        if not most:
            return min(HUNDRED, sum((s.low for s in stakes if s.owner in restricted), Decimal(0)))
        declared = sum((s.low for s in stakes if s.is_known), Decimal(0))
        remainder = max(Decimal(0), HUNDRED - declared)
        total, unknown = Decimal(0), Decimal(0)
        for stake in stakes:
            if stake.owner not in restricted:
                continue
            if stake.anywhere:
                return HUNDRED
            if stake.is_known:
                total += stake.known[-1]
            else:
                unknown = remainder  # unknown shares together hold at most the remainder
        return min(HUNDRED, total + unknown)

    def fixpoint(self, most: bool) -> dict[str, int]:
        """The least set closed under the test, from the listed parties (cross-holdings
        among unlisted parties cannot make each other restricted), each party with the
        order in which it became restricted (the listed first)."""
        restricted = dict.fromkeys(self.listed, 0)
        holds: dict[str, list[str]] = {}
        for held, stakes in self.graph.stakes.items():
            for stake in stakes:
                holds.setdefault(stake.owner, []).append(held)
        pending = dict.fromkeys(self.graph.parties)  # a set that keeps its order
        while pending:
            key, _ = pending.popitem()
            if key not in restricted and self.share(key, restricted, most) >= self.threshold:
                restricted[key] = len(restricted)
                # What it holds may now tip over.
                pending.update((h, None) for h in holds.get(key, []) if h not in restricted)
        return restricted

    @cached_property
    def certain(self) -> dict[str, int]:
        return self.fixpoint(most=False)

    @cached_property
    def possible(self) -> dict[str, int]:
        return self.fixpoint(most=True)

    def why(self, key: str) -> str:
        """What made `key` restricted: the owners restricted before it (never a circle)."""
        rank = self.certain[key]
        before = {k for k, r in self.certain.items() if r < rank}
        parts = [
            f"{self.graph.parties[s.owner].name} holds {_pct(s.low)}%"
            for s in self.graph.stakes.get(key, [])
            if s.owner in before and s.low > 0
        ]
        total = self.share(key, before, most=False)
        summed = f" ({_pct(total)}% in all)" if len(parts) > 1 else ""
        return f"{self.graph.parties[key].name} is restricted: {' and '.join(parts)}{summed}"

    def maybe(self, key: str) -> str:
        low = self.share(key, self.certain, most=False)
        high = self.share(key, self.possible, most=True)
        return (
            f"{self.graph.parties[key].name} may be restricted: restricted owners hold "
            f"{_pct(low)}% for certain, up to {_pct(high)}% with the shares not known"
        )

    def establish(self) -> list[str]:
        """The unknown shares on the chains by which the customer may be restricted."""
        out: list[str] = []
        queue, seen = [CUSTOMER], {CUSTOMER}
        while queue:
            held = queue.pop(0)
            for stake in self.graph.stakes.get(held, []):
                if stake.owner not in self.possible:
                    continue
                if not stake.is_known or len(stake.known) > 1:
                    out.append(self._ask(stake))
                if stake.owner not in self.certain and stake.owner not in seen:
                    seen.add(stake.owner)
                    queue.append(stake.owner)
        return list(dict.fromkeys(out))

    def _ask(self, stake: Stake) -> str:
        owner, held = self.graph.parties[stake.owner].name, self.graph.parties[stake.held].name
        if stake.source == LIST:
            listed = self.graph.parties[stake.held].listed
            where = listed.list_name if listed else "a list"
            return (
                f"the share {owner} holds in {held} ({where} records {held} as "
                f"{stake.relation.lower() or 'owned or controlled by'} {owner}, "
                "without a percentage)"
            )
        if stake.source == BENEFICIAL:
            return (
                f"the chain through which {owner}, a beneficial owner, holds {held}, "
                "and the share at each step"
            )
        if stake.source == PARENT:
            return f"the share {owner}, the ultimate parent, holds in {held}, and through whom"
        if len(stake.known) > 1:
            return f"the share {owner} holds in {held} (declared as {stake.shown()})"
        return f"the share {owner} holds in {held} (not given)"

    def notes(self) -> list[str]:
        out = []
        for key, stakes in self.graph.stakes.items():
            declared = sum((s.low for s in stakes if s.is_known), Decimal(0))
            if declared > HUNDRED:
                out.append(
                    f"the shares declared in {self.graph.parties[key].name} add up to "
                    f"{_pct(declared)}%"
                )
        return out

    def result(self) -> RegimeTest:
        share = self.share(CUSTOMER, self.certain, most=False)
        most = self.share(CUSTOMER, self.possible, most=True)
        if share >= self.threshold:
            status = "restricted"
        elif most >= self.threshold:
            status = "undetermined"
        else:
            status = "clear"
        parties = self.graph.parties
        held_by = [
            f"{parties[s.owner].name} ({'listed' if s.owner in self.listed else 'restricted'}) "
            f"holds {_pct(s.low)}%"
            for s in self.graph.stakes.get(CUSTOMER, [])
            if s.owner in self.certain and s.low > 0
        ]
        intermediaries = [
            self.why(k)
            for k in sorted(self.certain, key=self.certain.__getitem__)
            if k not in self.listed and k != CUSTOMER
        ]
        undetermined = [
            self.maybe(k)
            for k in parties
            if k in self.possible and k not in self.certain and k != CUSTOMER
        ]
        return RegimeTest(
            self.regime,
            self.threshold,
            status,
            share,
            most,
            tuple(held_by),
            tuple(intermediaries),
            tuple(undetermined) if status == "undetermined" else (),
            tuple(self.establish()) if status == "undetermined" else (),
            tuple(self.graph.listed_owners([self.regime])),
            tuple(self.notes()),
        )


class _Builder:
    def __init__(self, listed: Listed, linked: Linked) -> None:
        self.listed, self.linked = listed, linked
        self.graph = OwnershipGraph()

    def party(self, name: str, listed: ListedParty | None) -> str:
        key = listed.key if listed is not None else _name_key(name)
        if key not in self.graph.parties:
            self.graph.parties[key] = Party(key, name, listed)
        return key

    def stake(self, owner: str, held: str, source: str) -> Stake:
        stakes = self.graph.stakes.setdefault(held, [])
        for stake in stakes:
            if stake.owner == owner and stake.source == source:
                return stake
        stake = Stake(owner, held, source)
        stakes.append(stake)
        return stake

    def owners(self, held: str, owners: Sequence[Owner]) -> None:
        # A stack, not recursion: a dossier nested deeper than Python's stack is refused
        # by nothing else.
        stack = [(held, owner) for owner in reversed(owners)]
        while stack:
            below, owner = stack.pop()
            key = self.party(owner.name, self.listed(owner.name, owner.country))
            if key == below:
                continue  # a party named among its own owners holds nothing in itself
            self.stake(key, below, DOSSIER).declared.append(owner.percent)
            stack.extend((key, o) for o in reversed(owner.owners))

    def undisclosed(
        self, name: str, country: str | None, source: str, economic: Decimal | None
    ) -> None:
        """A listed beneficial owner or ultimate parent that the owners tree leaves out."""
        listed = self.listed(name, country)
        if listed is None:
            return
        key = listed.key
        if key in self.graph.parties or _name_key(name) in self.graph.parties:
            return  # the tree shows how it holds
        self.party(name, listed)
        self.stake(key, CUSTOMER, source).economic = economic

    def links(self) -> None:
        """Owners that the lists record for listed parties, to any depth."""
        queue = [p for p in self.graph.parties.values() if p.listed is not None]
        while queue:
            party = queue.pop(0)
            assert party.listed is not None
            for owner, relation in self.linked(party.listed):
                if owner.key == party.key:
                    continue
                new = owner.key not in self.graph.parties
                key = self.party(owner.listed_name, owner)
                stake = self.stake(key, party.key, LIST)
                stake.relation = relation
                if not stake.declared:
                    stake.declared.append(None)
                if new:
                    queue.append(self.graph.parties[key])


def analyze(dossier: Dossier, listed: Listed, linked: Linked = _no_links) -> OwnershipGraph:
    """The customer's ownership graph; `graph.test(regime)` runs the cascading test."""
    builder = _Builder(listed, linked)
    builder.graph.parties[CUSTOMER] = Party(CUSTOMER, dossier.legal_name, None)
    builder.owners(CUSTOMER, dossier.owners)
    for owner in dossier.beneficial_owners:
        builder.undisclosed(owner.name, owner.country, BENEFICIAL, owner.percent)
    parent = dossier.ultimate_parent
    if parent is not None:
        builder.undisclosed(parent.name, parent.headquarters_country, PARENT, None)
    builder.links()
    return builder.graph
