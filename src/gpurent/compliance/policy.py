"""The export-control policy: rules as data (YAML), checks as code, decisions explained.

A rule fires when its check finds evidence on the date the decision is made as of; the
decision is the most severe of the rules that fired (deny > review > allow).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gpurent.compliance.countries import group_names, in_groups, treated_as
from gpurent.compliance.dossier import Dossier
from gpurent.compliance.linked import RedFlag
from gpurent.compliance.ownership import OWNERSHIP_METHOD, REGIMES, OwnershipGraph, RegimeTest
from gpurent.errors import FileFormatError

Decision = Literal["allow", "review", "deny"]
SEVERITY = {"allow": 0, "review": 1, "deny": 2}


class Period(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    start: date = Field(alias="from")
    end: date | None = Field(default=None, alias="to", description="last day, inclusive")

    def holds(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    check: Literal[
        "listed",
        "listed_ownership",
        "ownership_undetermined",
        "headquarters_in",
        "country_in",
        "possible_match",
        "red_flags",
        "listed_owner",
        "large_request",
    ]
    decision: Literal["review", "deny"]
    message: str = Field(min_length=1)
    private: bool = Field(default=False, description="the renter sees the message only")
    effective: list[Period] = Field(default_factory=lambda: [Period(start=date(1900, 1, 1))])
    regimes: list[Literal["ofac", "bis", "other"]] | None = None
    at_least: Decimal | None = Field(default=None, ge=0, le=100)
    groups: list[str] = Field(default_factory=list)
    countries: list[str] = Field(default_factory=list)
    fields: list[Literal["incorporation_country", "headquarters_country"]] = Field(
        default_factory=list
    )
    include_ultimate_parent: bool = True
    hardware: str | None = None
    unless_licence: str | None = None
    gpu_hours_at_least: Decimal | None = Field(default=None, gt=0)
    outside_operator_country: bool = False

    @model_validator(mode="after")
    def _parameters(self) -> Rule:
        needs: dict[str, tuple[str, ...]] = {
            "listed_ownership": ("at_least",),
            "ownership_undetermined": ("at_least",),
            "headquarters_in": ("hardware",),
            "country_in": ("fields",),
            "large_request": ("gpu_hours_at_least",),
        }
        missing = [p for p in needs.get(self.check, ()) if not getattr(self, p)]
        if missing:
            raise ValueError(f"check {self.check} needs {', '.join(missing)}")
        unknown = [g for g in self.groups if g not in group_names()]
        if unknown:
            raise ValueError(f"unknown country group(s) {', '.join(unknown)}")
        return self

    def in_force(self, day: date) -> bool:
        return any(period.holds(day) for period in self.effective)


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    version: str
    operator_country: str = Field(min_length=2, max_length=2)
    rules: list[Rule] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> Policy:
        ids = [r.id for r in self.rules]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate rule id(s) {', '.join(duplicates)}")
        return self


def default_policy_text() -> str:
    return (resources.files("gpurent.compliance") / "data" / "default-policy.yaml").read_text()


def load_policy(path: Path | None = None) -> Policy:
    """The policy in `path` (or the default); a bad file is refused with every problem."""
    source = str(path) if path else "default-policy.yaml"
    try:
        text = path.read_text(encoding="utf-8") if path else default_policy_text()
        document = yaml.safe_load(text)
    except (OSError, yaml.YAMLError) as exc:
        raise FileFormatError(source, [(source, str(exc))]) from exc
    try:
        return Policy.model_validate(document)
    except ValidationError as exc:
        raise FileFormatError(
            source,
            [
                (f"{source}: {'.'.join(str(p) for p in e['loc']) or '(root)'}", e["msg"])
                for e in exc.errors()
            ],
        ) from exc


@dataclass(frozen=True)
class ListHit:
    """A name in the customer's record that resembles a list entry."""

    party: str  # "customer", "owner", "ultimate parent", "beneficial owner"
    name: str
    list_name: str
    entry_id: str
    listed_name: str
    score: float
    is_match: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "party": self.party,
            "name": self.name,
            "list": self.list_name,
            "entry_id": self.entry_id,
            "listed_name": self.listed_name,
            "score": self.score,
        }


@dataclass(frozen=True)
class RequestFacts:
    gpu_model: str
    classification: str  # "3A090.a", "3A090.b", "not controlled", ...
    gpus: int
    hours: Decimal
    facility_country: str | None = None

    @property
    def gpu_hours(self) -> Decimal:
        return self.hours * self.gpus


@dataclass
class Facts:
    """Everything the policy looks at."""

    dossier: Dossier
    hits: list[ListHit]
    ownership: OwnershipGraph
    red_flags: list[RedFlag]
    request: RequestFacts | None
    usage: Callable[[], Decimal]  # asked only by a rule that needs it: it costs a query
    as_of: date

    @cached_property
    def usage_gpu_hours(self) -> Decimal:
        """The customer's GPU-hours booked so far."""
        return self.usage()


@dataclass(frozen=True)
class Reason:
    rule: str
    decision: str
    message: str
    evidence: dict[str, Any]
    private: bool = False

    def public(self) -> dict[str, Any]:
        """What the renter may see."""
        return {
            "rule": self.rule,
            "message": self.message,
            "evidence": {} if self.private else self.evidence,
        }

    def full(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "decision": self.decision,
            "message": self.message,
            "evidence": self.evidence,
        }


@dataclass
class Outcome:
    decision: Decision
    reasons: list[Reason] = field(default_factory=list)
    policy: str = ""
    as_of: date | None = None
    policy_version: str = ""
    ownership_method: str = ""  # how ownership was counted (ownership.OWNERSHIP_METHOD)


Evidence = dict[str, Any] | None


def _listed(rule: Rule, facts: Facts, policy: Policy) -> Evidence:
    hits = [h for h in facts.hits if h.party == "customer" and h.is_match]
    return {"matches": [h.as_dict() for h in hits]} if hits else None


def _regime_tests(rule: Rule, facts: Facts) -> list[RegimeTest]:
    """The cascading test of each regime the rule names (regimes never add up)."""
    threshold = rule.at_least if rule.at_least is not None else Decimal(50)
    return [facts.ownership.test(r, threshold) for r in rule.regimes or REGIMES]


def _ownership(rule: Rule, facts: Facts, policy: Policy) -> Evidence:
    """Restricted by the cascading test: listed, or 50% held by restricted owners."""
    for test in _regime_tests(rule, facts):
        if test.status == "restricted":
            return test.evidence()
    return None


def _undetermined(rule: Rule, facts: Facts, policy: Policy) -> Evidence:
    """Not restricted on the shares known, but would be with some not known."""
    for test in _regime_tests(rule, facts):
        if test.status == "undetermined":
            return test.evidence()
    return None


def _has_licence(facts: Facts, scope: str) -> list[str]:
    return [
        lic.number
        for lic in facts.dossier.licences
        if scope.upper() in lic.scope.upper() and lic.expires >= facts.as_of
    ]


def _headquarters(rule: Rule, facts: Facts, policy: Policy) -> Evidence:
    request = facts.request
    if request is None or not rule.hardware or not request.classification.startswith(rule.hardware):
        return None
    places = [("headquarters", facts.dossier.headquarters_country)]
    parent = facts.dossier.ultimate_parent
    if rule.include_ultimate_parent and parent is not None:
        places.append((f"ultimate parent {parent.name} headquarters", parent.headquarters_country))
    hits = [
        (label, country, in_groups(country, rule.groups))
        for label, country in places
        if in_groups(country, rule.groups) or treated_as(country) in rule.countries
    ]
    if not hits:
        return None
    if rule.unless_licence and _has_licence(facts, rule.unless_licence):
        return None
    label, country, groups = hits[0]
    return {
        "where": label,
        "country": country,
        "treated_as": treated_as(country),
        "groups": groups or [treated_as(country)],
        "gpu_model": request.gpu_model,
        "classification": request.classification,
        "licences_considered": [
            {"number": lic.number, "scope": lic.scope, "expires": lic.expires.isoformat()}
            for lic in facts.dossier.licences
        ],
    }


def _country(rule: Rule, facts: Facts, policy: Policy) -> Evidence:
    for name in rule.fields:
        country = getattr(facts.dossier, name)
        groups = in_groups(country, rule.groups) if rule.groups else []
        if groups or treated_as(country) in rule.countries:
            return {"field": name, "country": country, "groups": groups}
    return None


def _possible(rule: Rule, facts: Facts, policy: Policy) -> Evidence:
    hits = [h for h in facts.hits if not h.is_match]
    return {"candidates": [h.as_dict() for h in hits]} if hits else None


def _red_flags(rule: Rule, facts: Facts, policy: Policy) -> Evidence:
    if not facts.red_flags:
        return None
    return {"flags": [{"kind": f.kind, "message": f.message} for f in facts.red_flags]}


def _listed_owner(rule: Rule, facts: Facts, policy: Policy) -> Evidence:
    """Any listed party in the ownership: below 50%, with a share not known, or while an
    ownership rule is not in force, it is for a compliance officer to look at."""
    owners = facts.ownership.listed_owners(rule.regimes)
    if not owners:
        return None
    tests = {r: facts.ownership.test(r) for r in rule.regimes or REGIMES}
    return {
        "method": OWNERSHIP_METHOD,
        "listed_parties": [o.as_dict() for o in owners],
        "cascading_test": {r: t.summary() for r, t in tests.items() if t.listed},
    }


def _large(rule: Rule, facts: Facts, policy: Policy) -> Evidence:
    request = facts.request
    if request is None or rule.gpu_hours_at_least is None:
        return None
    if rule.outside_operator_country and (
        treated_as(facts.dossier.headquarters_country) == policy.operator_country.upper()
    ):
        return None
    total = request.gpu_hours + facts.usage_gpu_hours  # the costly part last
    if total < rule.gpu_hours_at_least:
        return None
    return {
        "request_gpu_hours": f"{request.gpu_hours:g}",
        "usage_gpu_hours": f"{facts.usage_gpu_hours:g}",
        "threshold": f"{rule.gpu_hours_at_least:g}",
        "headquarters_country": facts.dossier.headquarters_country,
    }


_CHECK_FUNCTIONS: dict[str, Callable[[Rule, Facts, Policy], Evidence]] = {
    "listed": _listed,
    "listed_ownership": _ownership,
    "ownership_undetermined": _undetermined,
    "headquarters_in": _headquarters,
    "country_in": _country,
    "possible_match": _possible,
    "red_flags": _red_flags,
    "listed_owner": _listed_owner,
    "large_request": _large,
}


def evaluate(policy: Policy, facts: Facts) -> Outcome:
    reasons: list[Reason] = []
    for rule in policy.rules:
        if not rule.in_force(facts.as_of):
            continue
        evidence = _CHECK_FUNCTIONS[rule.check](rule, facts, policy)
        if evidence is not None:
            reasons.append(Reason(rule.id, rule.decision, rule.message, evidence, rule.private))
    decision: Decision = "allow"
    for reason in reasons:
        if SEVERITY[reason.decision] > SEVERITY[decision]:
            decision = "deny" if reason.decision == "deny" else "review"
    return Outcome(
        decision,
        reasons,
        f"{policy.name} {policy.version}",
        facts.as_of,
        policy_version=policy.version,
        ownership_method=OWNERSHIP_METHOD,
    )
