from __future__ import annotations

from datetime import date, datetime
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field

from gpurent.bounds import Count, CountryCode, Hours
from gpurent.compliance.models import Review
from gpurent.compliance.policy import Outcome
from gpurent.compliance.review_states import PENDING
from gpurent.timeutil import as_utc


class ReasonOut(BaseModel):
    rule: str
    message: str
    evidence: dict[str, Any]


class DecisionOut(BaseModel):
    decision: str
    reasons: list[ReasonOut]
    policy: str | None = None
    as_of: date | None = None

    @staticmethod
    def of(outcome: Outcome, private_too: bool = True) -> DecisionOut:
        reasons = [r.full() if private_too else r.public() for r in outcome.reasons]
        return DecisionOut(
            decision=outcome.decision,
            reasons=[
                ReasonOut(**{k: r[k] for k in ("rule", "message", "evidence")}) for r in reasons
            ],
            policy=outcome.policy,
            as_of=outcome.as_of,
        )


class CheckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dossier: dict[str, Any]
    gpu_model: str
    gpus: Count
    hours: Hours
    facility_country: CountryCode | None = None
    as_of: date | None = None


class ReviewOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    organization_id: int
    kind: str
    lease_id: int | None
    dossier_change_id: int | None
    decision_id: int | None
    status: str
    causes: list[str] | None
    four_eyes: bool
    opened_at: datetime
    hold_until: datetime | None
    due_at: datetime | None
    overdue: bool = False
    assignee: str | None
    first_approved_by: str | None
    first_approved_at: datetime | None
    decided_at: datetime | None
    decided_by: str | None
    reason: str | None

    @classmethod
    def of(cls, review: Review, now: datetime) -> Self:
        out = cls.model_validate(review)
        out.overdue = (
            review.status in PENDING and review.due_at is not None and as_utc(review.due_at) <= now
        )
        return out


class ReviewEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    at: datetime
    actor: str
    kind: str
    from_status: str | None
    to_status: str | None
    detail: str


class DossierChangeOut(BaseModel):
    """A submitted record waiting for review: the diff against the record in force."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    submitted_at: datetime
    submitted_by: str
    decision: str
    standing_before: str
    standing_reasons: list[dict[str, Any]]
    diff: dict[str, Any]
    previous: dict[str, Any]
    data: dict[str, Any]


class ReviewDetailOut(ReviewOut):
    reasons: list[dict[str, Any]] = []
    history: list[ReviewEventOut] = []
    dossier_change: DossierChangeOut | None = None


class ReviewDecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=5000)


class ReviewAssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    assignee: str = Field(min_length=1, max_length=200, description="a compliance officer's user")


class ReviewNoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=5000)


class PendingChangeOut(BaseModel):
    """What the customer's renters are told about a record waiting for an officer."""

    review_id: int
    submitted_at: datetime
    status: str = "awaiting_review"
    message: str = (
        "the new identification record awaits a compliance officer's review; "
        "the previous standing holds until then"
    )


class ClearanceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    organization_id: int
    list_name: str
    entry_id: str
    listed_name: str
    entry_sha256: str
    list_version_id: int
    reason: str
    cleared_by: str
    cleared_at: datetime
    undone_by: str | None
    undone_at: datetime | None
    undo_reason: str | None


class ClearanceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    entry_id: str = Field(min_length=1, max_length=100)
    list_name: str | None = Field(default=None, min_length=1, max_length=200)
    reason: str = Field(min_length=1, max_length=5000)


class ClearanceUndoIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=5000)


class StandingOut(BaseModel):
    decision: str | None
    reasons: list[dict[str, Any]]
    screened_at: datetime | None
    pending_change: PendingChangeOut | None = None
    clearances: list[ClearanceOut] = []
