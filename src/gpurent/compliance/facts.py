"""Gather what the policy looks at: screening of every party in the record, ownership,
red flags, the requested hardware's classification and the customer's usage."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gpurent.accounts.models import Organization
from gpurent.catalog import service as catalog
from gpurent.compliance import customer_facts
from gpurent.compliance.clearances import ClearedTest, cleared_test, nothing_cleared
from gpurent.compliance.customer_facts import CustomerFacts, Snapshot, database_of
from gpurent.compliance.dossier import Dossier
from gpurent.compliance.linked import LinkIndex, RedFlag
from gpurent.compliance.models import DossierRecord, Standing
from gpurent.compliance.ownership import ListedParty, OwnershipGraph, analyze
from gpurent.compliance.policy import Facts, ListHit, RequestFacts
from gpurent.leases.models import Lease
from gpurent.leases.states import LeaseStatus
from gpurent.lists import service as lists
from gpurent.screening import ListEntry, Match, Screener

# The Affiliates rule follows the Entity List, the MEU list and the SDNs of EAR 744.8
# (the Denied Persons and Unverified lists bring no ownership rule of their own).
_BIS = ("entity list", "military end")
_EAR_744_8 = {"NPWMD", "IFSR"}  # SDN programmes whose parties the EAR restricts too
_OFAC = ("ofac", "sdn", "specially designated", "sectoral", "foreign sanctions", "capta")
_NO_50_PERCENT = ("chinese military", "cmic")  # OFAC: the 50% rule does not apply


def regimes_of(entry: ListEntry) -> frozenset[str]:
    """Whose ownership rule a listed party brings: OFAC's 50% rule, BIS's Affiliates
    rule, or neither ("other": a listed owner is still reviewed)."""
    name = entry.list_name.lower()
    programs = {p.strip().upper() for p in entry.programs}
    if any(k in name for k in _BIS):
        return frozenset({"bis"})
    if any(k in name for k in _NO_50_PERCENT) or any("CMIC" in p for p in programs):
        return frozenset({"other"})
    if any(k in name for k in _OFAC):
        sdn = "sdn" in name and "non-sdn" not in name
        return frozenset({"ofac", "bis"} if sdn and programs & _EAR_744_8 else {"ofac"})
    return frozenset({"other"})


@dataclass
class _Screening:
    screener: Screener
    hits: list[ListHit]
    seen: dict[tuple[str, str | None], list[Match]] = field(default_factory=dict)
    cleared: ClearedTest = nothing_cleared  # false positives an officer cleared

    def all(self, name: str, country: str | None) -> list[Match]:
        """Each name of a record is screened once, however often it appears in it."""
        key = (name, country)
        if key not in self.seen:
            matches = self.screener.screen(name, country)
            self.seen[key] = [m for m in matches if not self.cleared(m)]
        return self.seen[key]

    def best(self, name: str, country: str | None) -> Match | None:
        matches = self.all(name, country)
        return matches[0] if matches else None

    def note(self, party: str, name: str, match: Match | None) -> None:
        if match is not None:
            self.hits.append(
                ListHit(
                    party,
                    name,
                    match.entry.list_name,
                    match.entry.entry_id,
                    match.entry.name,
                    match.score,
                    match.is_match,
                )
            )


# The list entries' details, indexed once per screener (kept with it: an id() of a freed
# screener could name the next one).
_links_cache: list[tuple[Screener, LinkIndex]] = []


def _red_flags(session: Session, screener: Screener, dossier: Dossier) -> list[RedFlag]:
    """Shared details with list entries (indexed once per screener) and denied customers."""
    cached = _links_cache[0] if _links_cache else None
    if cached is not None and cached[0] is screener:
        listed = cached[1]
    else:
        listed = LinkIndex()
        listed.add_entries(screener.entries)
        _links_cache[:] = [(screener, listed)]
    denied = LinkIndex()
    rows = session.execute(
        select(Organization.name, DossierRecord.data)
        .join(Standing, Standing.organization_id == DossierRecord.organization_id)
        .join(Organization, Organization.id == DossierRecord.organization_id)
        .where(Standing.decision == "deny")
    )
    for name, data in rows:
        if data != dossier.model_dump(mode="json"):
            denied.add_customer(name, Dossier.model_validate(data))
    return listed.flags(dossier) + denied.flags(dossier)


def _listed_party(best: ListEntry, matched: list[ListEntry], score: float) -> ListedParty:
    # A party can be on several lists; each brings its own ownership rule.
    return ListedParty(
        best.list_name,
        best.entry_id,
        best.name,
        frozenset(r for e in matched for r in regimes_of(e)),
        score,
        tuple((e.list_name, e.entry_id) for e in matched),
    )


def _ownership(session: Session, dossier: Dossier, screening: _Screening) -> OwnershipGraph:
    """The ownership graph: parties listed as screening finds them, with the owners the
    lists in force record for them ("Owned or Controlled By", no percentage)."""
    listed_cache: dict[tuple[str, str | None], ListedParty | None] = {}

    def listed(name: str, country: str | None) -> ListedParty | None:
        key = (name, country)
        if key not in listed_cache:
            matches = [m for m in screening.all(name, country) if m.is_match]
            listed_cache[key] = (
                _listed_party(matches[0].entry, [m.entry for m in matches], matches[0].score)
                if matches
                else None
            )
        return listed_cache[key]

    def linked(party: ListedParty) -> list[tuple[ListedParty, str]]:
        owners = lists.linked_owners(session, party.entries or ((party.list_name, party.entry_id),))
        return [
            (_listed_party(entry, [entry], 1.0), relation)
            for found in owners.values()
            for entry, relation in found
        ]

    return analyze(dossier, listed, linked)


def usage_gpu_hours(session: Session, organization_id: int | None) -> Decimal:
    if organization_id is None:
        return Decimal(0)
    seconds = session.scalar(
        select(
            func.coalesce(
                func.sum(
                    Lease.gpus
                    * (
                        func.extract("epoch", Lease.ends_at)
                        - func.extract("epoch", Lease.starts_at)
                    )
                ),
                0,
            )
        ).where(
            Lease.organization_id == organization_id,
            Lease.status.not_in([LeaseStatus.CANCELLED, LeaseStatus.REJECTED]),
        )
    )
    return Decimal(str(seconds or 0)) / 3600


def request_facts(
    session: Session, gpu_model: str, gpus: int, hours: Decimal, facility_country: str | None
) -> RequestFacts:
    model = catalog.get_model(session, gpu_model)
    classification = catalog.classify_model(model).control_class
    return RequestFacts(model.name, classification, gpus, hours, facility_country)


def customer_facts_of(
    session: Session, dossier: Dossier, threshold: float, organization_id: int | None
) -> CustomerFacts:
    """Screen every party of the record; its ownership graph; its red flags."""
    screener = lists.screener(session, threshold)
    screening = _Screening(screener, [], cleared=cleared_test(session, organization_id))
    for name in dossier.names():
        screening.note("customer", name, screening.best(name, dossier.headquarters_country))
    ownership = _ownership(session, dossier, screening)
    for party, name, country in dossier.related_parties():
        match = screening.best(name, country)
        # Listed owners are the ownership rules' business; near misses are everyone's.
        if match is not None and not match.is_match:
            screening.note(party, name, match)
    flags = _red_flags(session, screener, dossier)
    return CustomerFacts(dossier, tuple(screening.hits), ownership, tuple(flags))


def gather(
    session: Session,
    dossier: Dossier,
    threshold: float,
    *,
    request: RequestFacts | None,
    as_of: date,
    organization_id: int | None = None,
) -> Facts:
    customer = customer_facts_of(session, dossier, threshold, organization_id)
    return _facts(session, customer, request, as_of, organization_id)


def gather_for_booking(
    session: Session,
    snap: Snapshot,
    threshold: float,
    load_dossier: Callable[[], Dossier],
    request: RequestFacts,
    as_of: date,
) -> Facts:
    """The same facts, from the per-process caches while the snapshot's stamps hold."""
    database = database_of(session)
    key = (database, threshold, snap.organization_id, *snap.customer_stamp)
    customer = customer_facts.customers.get(
        key, lambda: customer_facts_of(session, load_dossier(), threshold, snap.organization_id)
    )
    model_key = (database, request.gpu_model.lower(), snap.model_changed)
    name, classification = customer_facts.model_classes.get(
        model_key, lambda: _model_class(session, request.gpu_model)
    )
    request = replace(request, gpu_model=name, classification=classification)
    return _facts(session, customer, request, as_of, snap.organization_id)


def _model_class(session: Session, gpu_model: str) -> tuple[str, str]:
    model = catalog.get_model(session, gpu_model)
    return model.name, catalog.classify_model(model).control_class


def _facts(
    session: Session,
    customer: CustomerFacts,
    request: RequestFacts | None,
    as_of: date,
    organization_id: int | None,
) -> Facts:
    return Facts(
        customer.dossier,
        list(customer.hits),
        customer.ownership,
        list(customer.flags),
        request,
        lambda: usage_gpu_hours(session, organization_id) if request is not None else Decimal(0),
        as_of,
    )
