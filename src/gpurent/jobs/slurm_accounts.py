"""Who a job runs as on a Slurm facility: its organization's own Unix user and Slurm
account there (the fleet file's `facilities[].slurm_accounts`). A customer without one
cannot run jobs on that facility: it is refused at submission, and a job whose mapping
went away before it started fails with that reason. The operator's own jobs may run
without a mapping, as gpurent's own user."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from gpurent.accounts.models import Organization
from gpurent.errors import ConflictError
from gpurent.fleet.models import SlurmAccount
from gpurent.jobs.backends.base import JobSpec
from gpurent.leases.models import Lease


class NoSlurmAccountError(ConflictError):
    code = "no_slurm_account"


def account_of(session: Session, lease: Lease) -> SlurmAccount | None:
    """The mapping of the lease's organization on the lease's facility, if any."""
    if lease.organization_id is None:
        return None
    return session.scalars(
        select(SlurmAccount).where(
            SlurmAccount.facility_id == lease.facility_id,
            SlurmAccount.organization_id == lease.organization_id,
        )
    ).first()


def check_can_run(session: Session, lease: Lease) -> SlurmAccount | None:
    """The account a job of the lease runs under (None: gpurent's own, for the operator);
    NoSlurmAccountError for a customer without one on a Slurm facility."""
    if lease.facility.backend != "slurm":
        return None
    account = account_of(session, lease)
    if account is not None or lease.organization_id is None:
        return account
    organization = session.get(Organization, lease.organization_id)
    if organization is None or organization.kind == "operator":
        return None
    raise NoSlurmAccountError(
        f"organization {organization.name} has no Slurm account on facility "
        f"{lease.facility.name}, so its jobs cannot run there: the operator maps it to a "
        "user and account of the cluster in the fleet file (slurm_accounts)"
    )


def with_account(session: Session, spec: JobSpec, lease: Lease) -> JobSpec:
    """The spec with the user and account to submit as (raises as check_can_run does)."""
    account = check_can_run(session, lease)
    if account is None:
        return spec
    return replace(spec, slurm_user=account.unix_user, slurm_account=account.account)
