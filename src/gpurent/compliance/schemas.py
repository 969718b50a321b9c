from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gpurent.compliance.policy import Outcome


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
    gpus: int = Field(ge=1)
    hours: Decimal = Field(gt=0)
    facility_country: str | None = Field(default=None, min_length=2, max_length=2)
    as_of: date | None = None


class ReviewOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    organization_id: int
    lease_id: int | None
    decision_id: int | None
    status: str
    opened_at: datetime
    hold_until: datetime
    decided_at: datetime | None
    decided_by: str | None
    reason: str | None


class ReviewDecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=5000)


class StandingOut(BaseModel):
    decision: str | None
    reasons: list[dict[str, Any]]
    screened_at: datetime | None
