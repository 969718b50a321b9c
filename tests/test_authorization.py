"""Every endpoint, each role, own and other organization: the expected status.

The expectations are written out here, not derived from the roles table, so that a change
to who may do what shows up as a failing row.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gpurent.accounts.roles import Role
from gpurent.compliance import clearances
from tests.billing_builders import seed_invoice
from tests.conftest import make_token
from tests.test_compliance import bundled, dossier, mixed_fleet

ALL = {"renter", "operator", "compliance", "admin"}
STAFF = {"operator", "compliance", "admin"}
BOOKERS = {"renter", "operator", "admin"}
OFFICERS = {"compliance", "admin"}
RECORD_KEEPERS = {"renter", "compliance", "admin"}
MONEY = {"operator", "admin"}

NOW = datetime.now(UTC)
TOMORROW = NOW + timedelta(days=1)

# (method, path, body, roles allowed, scoped to the owner's organization)
ENDPOINTS: list[tuple[str, str, Any, set[str], bool]] = [
    ("GET", "/v1/gpu-models", None, ALL, False),
    ("GET", "/v1/gpu-models/A100-80GB", None, ALL, False),
    ("GET", "/v1/facilities", None, STAFF, False),
    ("GET", "/v1/facilities/us-test-1", None, STAFF, False),
    ("GET", "/v1/nodes", None, STAFF, False),
    ("GET", "/v1/nodes/node-00", None, STAFF, False),
    ("GET", "/v1/gpus", None, STAFF, False),
    ("GET", "/v1/gpus/S-00-7", None, STAFF, False),
    ("GET", "/v1/gpus/S-00-7/events", None, STAFF, False),
    (
        "PUT",
        "/v1/gpus/S-00-7/state",
        {"state": "maintenance", "reason": "test"},
        {"operator", "admin"},
        False,
    ),
    ("GET", "/v1/offers", None, ALL, False),
    (
        "POST",
        "/v1/quotes",
        {"gpu_model": "H20", "gpus": 1, "hours": 1, "term": "on_demand"},
        ALL,
        False,
    ),
    ("GET", "/v1/availability?gpu_model=H20&gpus=1&hours=1", None, ALL, False),
    (
        "GET",
        f"/v1/calendar?start={NOW.date()}T00:00:00Z&end={TOMORROW.date()}T00:00:00Z",
        None,
        STAFF,
        False,
    ),
    ("POST", "/v1/leases", {"gpu_model": "H20", "gpus": 1, "hours": 1}, BOOKERS, False),
    ("GET", "/v1/leases", None, ALL, False),
    ("GET", "/v1/leases/{lease}", None, ALL, True),
    ("GET", "/v1/leases/{lease}/events", None, ALL, True),
    ("POST", "/v1/leases/{lease}/extend", {"hours": 1}, BOOKERS, True),
    ("POST", "/v1/leases/{lease}/shorten", {"hours": 0.5}, BOOKERS, True),
    ("POST", "/v1/leases/{lease}/cancel", None, BOOKERS, True),
    ("POST", "/v1/leases/{ended}/release", None, BOOKERS, True),
    ("POST", "/v1/screenings", {"name": "iFlytek"}, STAFF, False),
    ("POST", "/v1/screenings/batch", {"queries": [{"name": "iFlytek"}]}, STAFF, False),
    ("GET", "/v1/lists", None, STAFF, False),
    ("GET", "/v1/organizations", None, ALL, False),
    ("GET", "/v1/organizations/{org}", None, ALL, True),
    ("POST", "/v1/organizations", {"name": "New {n}"}, {"admin"}, False),
    (
        "POST",
        "/v1/tokens",
        {"organization": "Operator", "user": "u{n}", "role": "operator"},
        {"admin"},
        False,
    ),
    ("GET", "/v1/organizations/{org}/dossier", None, RECORD_KEEPERS, True),
    ("PUT", "/v1/organizations/{org}/dossier", "university", RECORD_KEEPERS, True),
    ("GET", "/v1/organizations/{org}/standing", None, RECORD_KEEPERS, True),
    ("GET", "/v1/organizations/{org}/clearances", None, OFFICERS, False),
    (
        "POST",
        "/v1/organizations/{org}/clearances",
        {"entry_id": "excerpt-iflytek", "reason": "not a possible match: 422"},
        OFFICERS,
        False,
    ),
    (
        "POST",
        "/v1/organizations/{org}/clearances/{clearance}/undo",
        {"reason": "withdrawn"},
        OFFICERS,
        False,
    ),
    ("GET", "/v1/compliance/schema", None, RECORD_KEEPERS, False),
    ("POST", "/v1/compliance/check", "check", OFFICERS, False),
    ("GET", "/v1/reviews", None, OFFICERS, False),
    ("GET", "/v1/reviews/{review}", None, OFFICERS, False),
    ("POST", "/v1/reviews/{review}/claim", None, OFFICERS, False),
    ("POST", "/v1/reviews/{review}/assign", {"assignee": "officer"}, OFFICERS, False),
    ("POST", "/v1/reviews/{review}/notes", {"text": "looked at"}, OFFICERS, False),
    ("POST", "/v1/reviews/{review}/approve", {"reason": "checked"}, OFFICERS, False),
    ("POST", "/v1/reviews/{review}/deny", {"reason": "checked"}, OFFICERS, False),
    ("GET", "/v1/alerts", None, OFFICERS, False),
    ("GET", "/v1/audit/verify", None, OFFICERS, False),
    ("GET", "/v1/audit/export", None, OFFICERS, False),
    ("GET", "/v1/balance", None, BOOKERS, False),
    ("GET", "/v1/balance?organization={org}", None, BOOKERS, True),
    ("GET", "/v1/ledger?organization={org}", None, BOOKERS, True),
    ("GET", "/v1/invoices", None, BOOKERS, False),
    ("GET", "/v1/invoices/draft?organization={org}", None, BOOKERS, True),
    ("GET", "/v1/invoices/{invoice}", None, BOOKERS, True),
    ("GET", "/v1/invoices/{invoice}.csv", None, BOOKERS, True),
    ("POST", "/v1/invoices", {"organization": "Own Co", "month": "2026-01"}, MONEY, False),
    ("POST", "/v1/invoices/{invoice}/status", {"status": "paid"}, MONEY, False),
    (
        "POST",
        "/v1/invoices/{invoice}/credit-notes",
        {"amount": "0.01", "reason": "x"},
        MONEY,
        False,
    ),
    (
        "POST",
        "/v1/organizations/{org}/credits",
        {"kind": "top_up", "amount": "5", "reference": "r{n}"},
        MONEY,
        False,
    ),
    ("PUT", "/v1/organizations/{org}/billing", {"credit_limit": "10"}, MONEY, False),
    ("GET", "/v1/whoami", None, ALL, False),
]
CALLERS = ["nobody", "renter-own", "renter-other", "operator", "compliance", "admin"]


def expected(caller: str, roles: set[str], scoped: bool) -> str:
    if caller == "nobody":
        return "401"
    role = "renter" if caller.startswith("renter") else caller
    if role not in roles:
        return "403"
    if scoped and caller == "renter-other":
        return "404"
    return "allowed"


def outcome(status: int) -> str:
    """Allowed means the request got past authorization (a 409 or 422 is the domain's)."""
    return str(status) if status in (401, 403, 404) else "allowed"


@pytest.fixture
def world(client: TestClient, engine: Engine, session: Session) -> dict[str, Any]:
    mixed_fleet(session)
    bundled(session)
    ids: dict[str, Any] = {}
    for name, record in (
        ("Own Co", "university"),
        ("Other Co", "european-start-up"),
        ("Held Co", "two-listed-owners-45"),
    ):
        org = client.post("/v1/organizations", json={"name": name, "country": "US"}).json()
        put = client.put(f"/v1/organizations/{org['id']}/dossier", json=dossier(record))
        assert put.status_code == 200, put.text
        ids[name] = org["id"]
    book = {"gpu_model": "A100-80GB", "gpus": 1, "hours": 4}
    lease = client.post("/v1/leases?organization=Own Co", json=book).json()
    ended = client.post("/v1/leases?organization=Own Co", json=book).json()
    client.post(f"/v1/leases/{ended['id']}/release")
    held = client.post("/v1/leases?organization=Held Co", json=book).json()
    assert held["status"] == "pending_review", held
    (review,) = client.get("/v1/reviews").json()
    entry, version_id = clearances.entry_in_force(session, "excerpt-iflytek")
    clearance = clearances.clear(
        session, ids["Own Co"], entry, version_id, reason="for the matrix", actor="test"
    )
    tokens = {
        "renter-own": make_token(engine, "Own Co", "customer", "own-renter", Role.RENTER),
        "renter-other": make_token(engine, "Other Co", "customer", "other-renter", Role.RENTER),
        "operator": make_token(engine, "Operator", "operator", "op", Role.OPERATOR),
        "compliance": make_token(engine, "Operator", "operator", "officer", Role.COMPLIANCE),
        "admin": client.headers["Authorization"].split()[1],
    }
    return {
        "org": ids["Own Co"],
        "lease": lease["id"],
        "ended": ended["id"],
        "review": review["id"],
        "clearance": clearance.id,
        "invoice": seed_invoice(session, ids["Own Co"]),
        "tokens": tokens,
    }


def test_authorization_matrix(client: TestClient, world: dict[str, Any]) -> None:
    failures = []
    n = 0
    for method, template, body, roles, scoped in ENDPOINTS:
        for caller in CALLERS:
            n += 1
            keys = ("lease", "ended", "org", "review", "clearance", "invoice")
            path = template.format(**{k: world[k] for k in keys})
            payload: Any = body
            if body == "university":
                payload = dossier("university")
            elif body == "check":
                payload = {
                    "dossier": dossier("university"),
                    "gpu_model": "H20",
                    "gpus": 1,
                    "hours": 1,
                }
            elif isinstance(body, dict):
                payload = {k: v.format(n=n) if isinstance(v, str) else v for k, v in body.items()}
            headers = {"Authorization": ""}
            if caller != "nobody":
                headers["Authorization"] = f"Bearer {world['tokens'][caller]}"
            response = client.request(method, path, json=payload, headers=headers)
            want, got = expected(caller, roles, scoped), outcome(response.status_code)
            if want != got:
                failures.append(
                    f"{method} {template} as {caller}: want {want}, "
                    f"got {response.status_code} {response.text[:120]}"
                )
    assert not failures, "\n".join(failures)


def test_a_renter_lists_only_its_own(client: TestClient, world: dict[str, Any]) -> None:
    own = {"Authorization": f"Bearer {world['tokens']['renter-own']}"}
    other = {"Authorization": f"Bearer {world['tokens']['renter-other']}"}
    assert world["lease"] in {lease["id"] for lease in client.get("/v1/leases", headers=own).json()}
    assert client.get("/v1/leases", headers=other).json() == []
    assert [o["name"] for o in client.get("/v1/organizations", headers=other).json()] == [
        "Other Co"
    ]


def test_open_endpoints_and_bad_tokens(client: TestClient) -> None:
    bare = {"Authorization": ""}
    assert client.get("/healthz", headers=bare).status_code == 200
    assert client.get("/metrics", headers=bare).status_code == 200
    wrong = client.get("/v1/offers", headers={"Authorization": "Bearer gpr_not-a-token"})
    assert wrong.status_code == 401
    assert wrong.json()["detail"][0]["code"] == "unauthenticated"
