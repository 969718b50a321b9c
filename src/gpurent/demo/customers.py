"""The demo's organizations: the operator (with the administrator and a compliance
officer), and renters whose records the policy allows, and one it holds for review."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from gpurent.accounts import service as accounts
from gpurent.accounts.roles import Role
from gpurent.billing import demo as billing_demo
from gpurent.compliance import gate
from gpurent.compliance import service as compliance
from gpurent.config import Settings
from gpurent.leases.index import FleetCache
from gpurent.leases.schemas import LeaseRequest

DEMO_ACTOR = "demo"
OPERATOR = "Demo GPU Cloud"

CUSTOMERS: list[tuple[str, str, dict[str, Any]]] = [
    (
        "Lakeside University",
        "US",
        {
            "legal_name": "Lakeside University",
            "incorporation_country": "US",
            "headquarters_country": "US",
            "addresses": [{"street": "1 College Avenue", "city": "Madison", "country": "US"}],
            "emails": ["hpc@lakeside.example.edu"],
            "end_use": "academic research: protein structure models",
        },
    ),
    (
        "Nordlicht Robotics GmbH",
        "DE",
        {
            "legal_name": "Nordlicht Robotics GmbH",
            "incorporation_country": "DE",
            "headquarters_country": "DE",
            "registration": {"number": "HRB 123456", "jurisdiction": "Amtsgericht Berlin"},
            "addresses": [{"street": "Torstrasse 10", "city": "Berlin", "country": "DE"}],
            "owners": [{"name": "Nordlicht founders", "country": "DE", "percent": 100}],
            "end_use": "training perception models for warehouse robots",
        },
    ),
    (
        "Harbourview Compute Pte. Ltd.",
        "SG",
        {
            "legal_name": "Harbourview Compute Pte. Ltd.",
            "incorporation_country": "SG",
            "headquarters_country": "SG",
            "addresses": [{"street": "8 Marina View", "city": "Singapore", "country": "SG"}],
            "owners": [
                {"name": "Harbourview Holdings Limited", "country": "SG", "percent": 75},
                {"name": "Sugon Information Industry Co., Ltd.", "country": "CN", "percent": 25},
            ],
            "end_use": "language model fine-tuning for customers in the region",
        },
    ),
]
REVIEW_CASE = "Harbourview Compute Pte. Ltd."
PREPAID_CASE = "Lakeside University"


def load_customers(session: Session, settings: Settings, admin_token: str) -> dict[str, str]:
    """Create the organizations, users and records; returns the renters' tokens."""
    operator = accounts.create_organization(session, OPERATOR, "operator", "US", actor=DEMO_ACTOR)
    accounts.create_token(
        session, operator, "admin", Role.ADMIN, actor=DEMO_ACTOR, token=admin_token
    )
    tokens = {
        "compliance": accounts.create_token(
            session, operator, "compliance-officer", Role.COMPLIANCE, actor=DEMO_ACTOR
        )
    }
    policy = gate.policy_for(settings)
    for name, country, record in CUSTOMERS:
        org = accounts.create_organization(session, name, "customer", country, actor=DEMO_ACTOR)
        user = name.split()[0].lower()
        tokens[name] = accounts.create_token(session, org, user, Role.RENTER, actor=DEMO_ACTOR)
        compliance.put_dossier(
            session,
            org,
            record,
            actor=DEMO_ACTOR,
            policy=policy,
            threshold=settings.screening_threshold,
        )
        if name == PREPAID_CASE:  # a grant and a running lease: a balance that burns
            billing_demo.prepaid_renter(session, settings, org, tokens[name])
        if name == REVIEW_CASE:
            who = accounts.principal_for(session, tokens[name])
            assert who is not None
            gate.book(
                session,
                settings,
                who,
                LeaseRequest(gpu_model="A100-80GB", gpus=8, hours=72),
                organization_name=None,
                idempotency_key=None,
                fleet=FleetCache(),
            )
    return tokens


def write_tokens(path: Path, tokens: dict[str, str]) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(tokens, handle, indent=2)
