"""The gate every lease creation and extension passes (after Blazar's check_create and
check_update hooks): allow books, review books and holds for a compliance officer, deny
refuses with the reasons the customer may see."""

from __future__ import annotations

import contextlib
from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from sqlalchemy.orm import Session

from gpurent.accounts.models import Organization
from gpurent.accounts.roles import Role
from gpurent.accounts.service import Principal, get_organization, operator_organization
from gpurent.compliance import customer_facts, reviews, service
from gpurent.compliance.dossier import Dossier
from gpurent.compliance.facts import gather_for_booking, request_facts
from gpurent.compliance.policy import Outcome, Policy, RequestFacts, evaluate, load_policy
from gpurent.config import Settings
from gpurent.errors import ForbiddenError, NotFoundError
from gpurent.fleet.models import Facility
from gpurent.leases import booking
from gpurent.leases.index import FleetCache
from gpurent.leases.models import Lease
from gpurent.leases.schemas import LeaseRequest
from gpurent.leases.window import LeaseLimits, resolve_window
from gpurent.timeutil import utcnow


class ComplianceDeniedError(ForbiddenError):
    code = "compliance_denied"

    def __init__(self, outcome: Outcome) -> None:
        super().__init__("refused by the export-control policy")
        item = self.items[0]
        self.items = [
            type(item)(self.code, f"{r.rule}: {r.message}", [r.rule]) for r in outcome.reasons
        ] or [item]
        self.reasons = [r.public() for r in outcome.reasons]


@lru_cache(maxsize=4)
def _policy(path: str | None, mtime: float) -> Policy:
    return load_policy(Path(path) if path else None)


def policy_for(settings: Settings) -> Policy:
    path = settings.policy_file
    return _policy(str(path) if path else None, path.stat().st_mtime if path else 0.0)


def customer_of(session: Session, who: Principal, name: str | None) -> Organization | None:
    """The organization a lease is for: a renter's own; for staff, the one named, else the
    operator's (None before any organization exists)."""
    if who.own_organization_only:
        if name is not None and name != who.organization:
            raise ForbiddenError("a renter books for its own organization only")
        return get_organization(session, who.organization_id)
    if name is not None:
        return get_organization(session, name)
    return operator_organization(session)


def cli_principal(actor: str) -> Principal:
    """The command line acts as a local administrator."""
    return Principal(0, actor, 0, "local", Role.ADMIN)


def _facility_country(session: Session, request: LeaseRequest) -> str | None:
    if request.facility:
        facility = session.query(Facility).filter(Facility.name == request.facility).first()
        return facility.country if facility else None
    return request.country


def decide_request(
    session: Session,
    settings: Settings,
    dossier: Dossier,
    *,
    gpu_model: str,
    gpus: int,
    hours: Decimal,
    facility_country: str | None,
    as_of: date | None = None,
    organization_id: int | None = None,
) -> Outcome:
    """The policy in force decides a request for a customer's record; records nothing."""
    facts = request_facts(session, gpu_model, gpus, hours, facility_country)
    return service.decide(
        session,
        policy_for(settings),
        settings.screening_threshold,
        dossier,
        request=facts,
        as_of=as_of,
        organization_id=organization_id,
    )


def assess(
    session: Session,
    settings: Settings,
    organization: Organization | None,
    *,
    gpu_model: str,
    gpus: int,
    hours: Decimal,
    facility_country: str | None,
    kind: str,
    subject: str,
    actor: str,
    as_of: date | None = None,
) -> tuple[Outcome, int | None]:
    """Decide for a request and record the decision; commits. Operator-own use is allowed."""
    outcome = _decide(
        session, settings, organization, gpu_model=gpu_model, gpus=gpus, hours=hours,
        facility_country=facility_country, as_of=as_of,
    )  # fmt: skip
    if organization is None or not _recorded(outcome):
        return outcome, None
    record = service.record_decision(
        session, outcome, kind=kind, subject=subject, actor=actor, organization_id=organization.id
    )
    session.commit()
    return outcome, record.id


OPERATOR_OWN_USE = "operator's own use"


def _recorded(outcome: Outcome) -> bool:
    """The operator's own use is allowed without a decision to keep."""
    return outcome.policy != OPERATOR_OWN_USE


def _decide(
    session: Session,
    settings: Settings,
    organization: Organization | None,
    *,
    gpu_model: str,
    gpus: int,
    hours: Decimal,
    facility_country: str | None,
    as_of: date | None = None,
) -> Outcome:
    """The policy's outcome for a request; records nothing."""
    if organization is None or organization.kind == "operator":
        return Outcome("allow", [], OPERATOR_OWN_USE)
    dossier = service.require_dossier(session, organization)
    return decide_request(
        session,
        settings,
        dossier,
        gpu_model=gpu_model,
        gpus=gpus,
        hours=hours,
        facility_country=facility_country,
        as_of=as_of,
        organization_id=organization.id,
    )


def _booking_customer(
    session: Session, who: Principal, name: str | None
) -> tuple[int | None, int | None]:
    """(whose lease it is, whose booking needs a decision: None for the operator's own
    use); see customer_of. No query for a renter's own organization."""
    if who.own_organization_only and name in (None, who.organization):
        return who.organization_id, who.organization_id
    organization = customer_of(session, who, name)
    if organization is None:
        return None, None
    return organization.id, None if organization.kind == "operator" else organization.id


def _decide_booking(
    session: Session, settings: Settings, organization_id: int | None, request: LeaseRequest,
    hours: Decimal,
) -> tuple[Outcome, str | None]:  # fmt: skip
    """The outcome for a booking, and the customer's name (None: the operator's own use,
    nothing to record). One query when the customer's facts are cached."""
    if organization_id is None:
        return Outcome("allow", [], OPERATOR_OWN_USE), None
    snap = customer_facts.snapshot(session, organization_id, request.gpu_model)
    if snap is None:
        raise NotFoundError(f"no organization {organization_id}")
    if snap.kind == "operator":
        return Outcome("allow", [], OPERATOR_OWN_USE), None
    if snap.dossier_changed is None:
        service.require_dossier(session, get_organization(session, organization_id))
    wanted = RequestFacts(
        request.gpu_model, "", request.gpus, hours, _facility_country(session, request)
    )
    found = gather_for_booking(
        session,
        snap,
        settings.screening_threshold,
        lambda: service.require_dossier(session, get_organization(session, organization_id)),
        wanted,
        utcnow().date(),
    )
    return evaluate(policy_for(settings), found), snap.name


def book(
    session: Session,
    settings: Settings,
    who: Principal,
    request: LeaseRequest,
    *,
    organization_name: str | None,
    idempotency_key: str | None,
    fleet: FleetCache,
) -> tuple[Lease, bool, Outcome]:
    """Decide with no lock held (the customer's screening is cached per process), then book;
    the decision and its audit record go into the booking's own transaction."""
    owner, organization_id = _booking_customer(session, who, organization_name)
    limits = LeaseLimits.of(settings)
    window = resolve_window(request, utcnow(), limits)
    hours = Decimal((window.end - window.start).total_seconds()) / 3600
    outcome, customer = _decide_booking(session, settings, organization_id, request, hours)
    subject = f"organization:{organization_id if organization_id is not None else 'none'}"
    held = outcome.decision == "review"

    def record(into: Session, lease_id: int | None) -> None:
        """The decision (and, for a held lease, its review) in the caller's transaction."""
        if customer is None or organization_id is None:
            return
        decision_id = service.insert_decision(
            into, outcome, kind="lease.create", subject=subject, actor=who.actor,
            organization_id=organization_id,
        )  # fmt: skip
        if held and lease_id is not None:
            causes = [r.rule for r in outcome.reasons if r.decision == "review"]
            reviews.open_review(
                into,
                organization_id=organization_id,
                actor=who.actor,
                causes=causes,
                four_eyes=reviews.needs_four_eyes(policy_for(settings), causes),
                lease_id=lease_id,
                decision_id=decision_id,
                hold_until=utcnow() + timedelta(hours=settings.review_hold_hours),
                sla_hours=settings.review_sla_hours,
            )

    def record_alone() -> None:
        session.rollback()
        record(session, None)
        session.commit()

    if outcome.decision == "deny":
        record_alone()
        raise ComplianceDeniedError(outcome)
    try:
        lease, replayed = booking.request_lease(
            session,
            request,
            actor=who.actor,
            idempotency_key=idempotency_key,
            limits=limits,
            fleet=fleet,
            customer=booking.Customer(owner, held),
            also=record,
        )
    except Exception:
        # Not booked (no capacity, a conflict, a database error): the decision is kept.
        with contextlib.suppress(Exception):
            record_alone()
        raise
    return lease, replayed, outcome


class ExtensionNeedsReviewError(ForbiddenError):
    code = "compliance_review_needed"


def check_extension(
    session: Session, settings: Settings, who: Principal, lease: Lease, extra_hours: Decimal
) -> Outcome:
    """The gate for a longer lease: the extra GPU-hours are the request. An extension
    that would need a review is refused (the lease keeps its end): a running lease is not
    put on hold mid-way."""
    if lease.organization_id is None:
        return Outcome("allow", [], "lease without a customer")
    organization = get_organization(session, lease.organization_id)
    outcome, _ = assess(
        session,
        settings,
        organization,
        gpu_model=lease.gpu_model.name,
        gpus=lease.gpus,
        hours=extra_hours,
        facility_country=lease.facility.country,
        kind="lease.extend",
        subject=f"lease:{lease.id}",
        actor=who.actor,
    )
    if outcome.decision == "deny":
        raise ComplianceDeniedError(outcome)
    if outcome.decision == "review":
        reasons = "; ".join(f"{r.rule}: {r.message}" for r in outcome.reasons)
        raise ExtensionNeedsReviewError(
            f"this extension needs a compliance officer's review ({reasons}); ask the operator"
        )
    return outcome
