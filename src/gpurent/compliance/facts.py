"""Gather what the policy looks at: screening of every party in the record, ownership,
red flags, the requested hardware's classification and the customer's usage."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gpurent.accounts.models import Organization
from gpurent.catalog import service as catalog
from gpurent.compliance.dossier import Dossier
from gpurent.compliance.linked import LinkIndex, RedFlag
from gpurent.compliance.models import DossierRecord, Standing
from gpurent.compliance.ownership import ListedParty, analyze
from gpurent.compliance.policy import Facts, ListHit, RequestFacts
from gpurent.leases.models import Lease
from gpurent.leases.states import LeaseStatus
from gpurent.lists import service as lists
from gpurent.screening import Match, Screener

_BIS = ("entity list", "military end", "denied persons", "unverified")
_OFAC = ("ofac", "sdn", "specially designated", "sectoral", "foreign sanctions", "capta")


def regime(list_name: str) -> str:
    """Which ownership rule a list's parties bring: OFAC's 50% rule or BIS's Affiliates rule."""
    name = list_name.lower()
    if any(k in name for k in _BIS):
        return "bis"
    if any(k in name for k in _OFAC) or "non-sdn" in name:
        return "ofac"
    return "other"


@dataclass
class _Screening:
    screener: Screener
    hits: list[ListHit]
    seen: dict[tuple[str, str | None], list[Match]] = field(default_factory=dict)

    def all(self, name: str, country: str | None) -> list[Match]:
        """Each name of a record is screened once, however often it appears in it."""
        key = (name, country)
        if key not in self.seen:
            self.seen[key] = self.screener.screen(name, country)
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


_links_cache: dict[int, LinkIndex] = {}


def _red_flags(session: Session, screener: Screener, dossier: Dossier) -> list[RedFlag]:
    """Shared details with list entries (indexed once per screener) and denied customers."""
    listed = _links_cache.get(id(screener))
    if listed is None:
        _links_cache.clear()
        listed = LinkIndex()
        listed.add_entries(screener.entries)
        _links_cache[id(screener)] = listed
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
    classification = catalog.describe(model).classification
    return RequestFacts(model.name, classification, gpus, hours, facility_country)


def gather(
    session: Session,
    dossier: Dossier,
    threshold: float,
    *,
    request: RequestFacts | None,
    as_of: date,
    organization_id: int | None = None,
) -> Facts:
    screener = lists.screener(session, threshold)
    screening = _Screening(screener, [])
    for name in dossier.names():
        screening.note("customer", name, screening.best(name, dossier.headquarters_country))
    listed_cache: dict[tuple[str, str | None], ListedParty | None] = {}

    def listed(name: str, country: str | None) -> ListedParty | None:
        key = (name, country)
        if key not in listed_cache:
            # A party can be on several lists; each brings its own ownership rule.
            matches = [m for m in screening.all(name, country) if m.is_match]
            best = matches[0] if matches else None
            listed_cache[key] = (
                ListedParty(
                    best.entry.list_name,
                    best.entry.entry_id,
                    best.entry.name,
                    frozenset(regime(m.entry.list_name) for m in matches),
                    best.score,
                )
                if best is not None
                else None
            )
        return listed_cache[key]

    ownership = analyze(dossier, listed)
    for party, name, country in dossier.related_parties():
        match = screening.best(name, country)
        # Listed owners are the ownership rules' business; near misses are everyone's.
        if match is not None and not match.is_match:
            screening.note(party, name, match)
    flags = _red_flags(session, screener, dossier)
    return Facts(
        dossier,
        screening.hits,
        ownership,
        flags,
        request,
        usage_gpu_hours(session, organization_id) if request is not None else Decimal(0),
        as_of,
    )
