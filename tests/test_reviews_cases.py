"""Reviews run as cases, through the API with two compliance officers' tokens: four eyes
on possible matches, claims and assignments, notes and history, due times, and
clearances of false positives that hold until the list entry changes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from gpurent.accounts.roles import Role
from gpurent.api.app import create_app
from gpurent.audit.models import AuditRecord
from gpurent.compliance import review_states, reviews
from gpurent.compliance import routes as compliance_routes
from gpurent.compliance.models import Review
from gpurent.compliance.policy import load_policy
from gpurent.config import Settings
from gpurent.errors import InvalidTransitionError
from gpurent.lists import service as lists
from gpurent.timeutil import utcnow
from tests.conftest import make_token
from tests.test_compliance import mixed_fleet

ENTRY = "EL-NR-1"
CSL_HEADER = "source,entity_number,type,programs,name,addresses,remarks\n"
CSL_ROW = (
    "Entity List (EL) - Bureau of Industry and Security,{id},Entity,,Nordlicht Robotics GmbH,"
    '"Torstrasse 10, Berlin, DE","{remarks}"\n'
)
# One letter off the listed name: a possible match at this suite's strict threshold.
CUSTOMER = {
    "legal_name": "Nordlich Robotics GmbH",
    "incorporation_country": "DE",
    "headquarters_country": "DE",
}
THRESHOLD = 0.99
A100 = {"gpu_model": "A100-80GB", "gpus": 1, "hours": 2}
WHY = {"reason": "different company: registry number and founders checked"}


def import_list(session: Session, tmp_path: Path, remarks: str = "") -> None:
    path = tmp_path / f"csl-{len(list(tmp_path.glob('csl-*')))}.csv"
    path.write_text(CSL_HEADER + CSL_ROW.format(id=ENTRY, remarks=remarks))
    session.rollback()
    lists.import_lists(session, lists.read_files([path]), "test")


@pytest.fixture
def strict(engine: Engine, tmp_path: Path) -> Iterator[TestClient]:
    """The API at a threshold where a one-letter variant is only a possible match."""
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=str(engine.url),
        screening_threshold=THRESHOLD,
        review_sla_hours=4,
    )
    with TestClient(create_app(settings, engine=engine)) as client:
        token = make_token(engine, "Operator", "operator", "admin", Role.ADMIN)
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


def bearer(engine: Engine, org: str, kind: str, user: str, role: Role) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token(engine, org, kind, user, role)}"}


@pytest.fixture
def world(strict: TestClient, engine: Engine, session: Session, tmp_path: Path) -> dict[str, Any]:
    mixed_fleet(session)
    import_list(session, tmp_path)
    org = strict.post("/v1/organizations", json={"name": "Nordlich", "country": "DE"}).json()
    put = strict.put(f"/v1/organizations/{org['id']}/dossier", json=CUSTOMER)
    assert put.status_code == 200, put.text
    rules = {r["rule"] for r in put.json()["reasons"]}
    assert put.json()["decision"] == "review", put.json()
    assert rules == {"possible-list-match"}, f"the precondition moved: {put.json()}"
    return {
        "org": org["id"],
        "renter": bearer(engine, "Nordlich", "customer", "n-renter", Role.RENTER),
        "a": bearer(engine, "Operator", "operator", "officer-a", Role.COMPLIANCE),
        "b": bearer(engine, "Operator", "operator", "officer-b", Role.COMPLIANCE),
    }


def held_review(client: TestClient, world: dict[str, Any]) -> tuple[int, int]:
    lease = client.post("/v1/leases", json=A100, headers=world["renter"])
    assert lease.status_code == 201, lease.text
    assert lease.json()["status"] == "pending_review"
    (review,) = [r for r in client.get("/v1/reviews").json() if r["lease_id"] == lease.json()["id"]]
    return lease.json()["id"], review["id"]


class TestFourEyes:
    def test_one_officer_alone_cannot_approve_a_possible_match(
        self, strict: TestClient, world: dict[str, Any]
    ) -> None:
        lease_id, review_id = held_review(strict, world)
        review = strict.get(f"/v1/reviews/{review_id}").json()
        assert (review["causes"], review["four_eyes"]) == (["possible-list-match"], True)

        first = strict.post(f"/v1/reviews/{review_id}/approve", json=WHY, headers=world["a"])
        assert first.status_code == 200, first.text
        assert first.json()["status"] == "awaiting_second_approval"
        assert first.json()["first_approved_by"] == "officer-a@Operator"
        assert strict.get(f"/v1/leases/{lease_id}").json()["status"] == "pending_review"

        same = strict.post(f"/v1/reviews/{review_id}/approve", json=WHY, headers=world["a"])
        assert same.status_code == 409
        assert same.json()["detail"][0]["code"] == "four_eyes"
        assert strict.get(f"/v1/leases/{lease_id}").json()["status"] == "pending_review"

        second = strict.post(f"/v1/reviews/{review_id}/approve", json=WHY, headers=world["b"])
        assert second.status_code == 200, second.text
        assert (second.json()["status"], second.json()["decided_by"]) == (
            "approved",
            "officer-b@Operator",
        )
        assert strict.get(f"/v1/leases/{lease_id}").json()["status"] == "active"

    def test_a_second_officer_may_still_deny(
        self, strict: TestClient, world: dict[str, Any]
    ) -> None:
        lease_id, review_id = held_review(strict, world)
        strict.post(f"/v1/reviews/{review_id}/approve", json=WHY, headers=world["a"])
        denied = strict.post(
            f"/v1/reviews/{review_id}/deny", json={"reason": "not convinced"}, headers=world["b"]
        )
        assert denied.json()["status"] == "denied"
        assert strict.get(f"/v1/leases/{lease_id}").json()["status"] == "rejected"

    def test_a_review_without_such_rules_needs_one_officer(
        self, client: TestClient, engine: Engine, session: Session
    ) -> None:
        from tests.test_compliance import bundled, renter

        mixed_fleet(session)
        bundled(session)
        headers = renter(client, engine, "front-company-at-listed-address")
        lease = client.post(
            "/v1/leases", json={"gpu_model": "H20", "gpus": 1, "hours": 1}, headers=headers
        ).json()
        (review,) = client.get("/v1/reviews").json()
        assert review["causes"] == ["red-flags"]
        assert review["four_eyes"] is False
        done = client.post(f"/v1/reviews/{review['id']}/approve", json=WHY)
        assert done.json()["status"] == "approved"
        assert client.get(f"/v1/leases/{lease['id']}").json()["status"] == "active"


class TestCase:
    def test_claim_assign_note_and_history(
        self, strict: TestClient, engine: Engine, world: dict[str, Any]
    ) -> None:
        _, review_id = held_review(strict, world)
        url = f"/v1/reviews/{review_id}"
        claimed = strict.post(f"{url}/claim", headers=world["a"])
        assert claimed.json()["assignee"] == "officer-a@Operator"
        taken = strict.post(f"{url}/claim", headers=world["b"])
        assert taken.status_code == 409  # someone holds it: reassign instead
        not_officer = strict.post(f"{url}/assign", json={"assignee": "n-renter"})
        assert not_officer.status_code == 422
        assert not_officer.json()["detail"][0]["fields"] == ["assignee"]
        moved = strict.post(f"{url}/assign", json={"assignee": "officer-b"}, headers=world["a"])
        assert moved.json()["assignee"] == "officer-b@Operator"
        assert strict.post(f"{url}/notes", json={"text": ""}).status_code == 422
        strict.post(f"{url}/notes", json={"text": "asked for the register"}, headers=world["b"])
        strict.post(f"{url}/approve", json=WHY, headers=world["b"])
        strict.post(f"{url}/approve", json=WHY, headers=world["a"])

        case = strict.get(url).json()
        history = [(e["kind"], e["actor"]) for e in case["history"]]
        assert history == [
            ("opened", "n-renter@Nordlich"),
            ("claimed", "officer-a@Operator"),
            ("assigned", "officer-a@Operator"),
            ("note", "officer-b@Operator"),
            ("awaiting_second_approval", "officer-b@Operator"),
            ("approved", "officer-a@Operator"),
        ]
        assert case["reasons"][0]["rule"] == "possible-list-match"
        assert strict.post(f"{url}/notes", json={"text": "late"}).status_code == 409

    def test_every_step_is_audited(
        self, strict: TestClient, session: Session, world: dict[str, Any]
    ) -> None:
        _, review_id = held_review(strict, world)
        url = f"/v1/reviews/{review_id}"
        strict.post(f"{url}/claim", headers=world["a"])
        strict.post(f"{url}/notes", json={"text": "checking"}, headers=world["a"])
        strict.post(f"{url}/approve", json=WHY, headers=world["a"])
        session.rollback()
        actions = list(
            session.scalars(
                select(AuditRecord.action)
                .where(AuditRecord.subject == f"review:{review_id}")
                .order_by(AuditRecord.id)
            )
        )
        assert actions == [
            "review.opened",
            "review.claimed",
            "review.note",
            "review.awaiting_second_approval",
        ]

    def test_status_changes_follow_the_table(self) -> None:
        review = Review(id=1, organization_id=1, status="approved", kind="lease")
        with pytest.raises(InvalidTransitionError, match="final"):
            review_states.change_review_status(
                None,  # type: ignore[arg-type]  # refused before any write
                review,
                review_states.ReviewStatus.OPEN,
                actor="test",
            )


class TestOverdue:
    def test_overdue_reviews_show_in_the_api_and_metrics(
        self, strict: TestClient, world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        _, review_id = held_review(strict, world)
        assert strict.get("/v1/reviews?overdue=true").json() == []
        assert "gpurent_reviews_overdue 0.0" in strict.get("/metrics").text
        later = utcnow() + timedelta(hours=5)  # past the 4-hour SLA of this suite
        monkeypatch.setattr(reviews, "utcnow", lambda: later)
        monkeypatch.setattr(compliance_routes, "utcnow", lambda: later)
        (late,) = strict.get("/v1/reviews?overdue=true").json()
        assert (late["id"], late["overdue"]) == (review_id, True)
        assert "gpurent_reviews_overdue 1.0" in strict.get("/metrics").text
        strict.post(f"/v1/reviews/{review_id}/deny", json={"reason": "no answer"})
        assert strict.get("/v1/reviews?overdue=true").json() == []


class TestClearances:
    def test_a_cleared_pair_stops_firing_until_the_entry_changes(
        self,
        strict: TestClient,
        session: Session,
        world: dict[str, Any],
        tmp_path: Path,
    ) -> None:
        org, renter = world["org"], world["renter"]
        url = f"/v1/organizations/{org}/clearances"
        assert strict.post(url, json={"entry_id": ENTRY, **WHY}, headers=renter).status_code == 403
        cleared = strict.post(url, json={"entry_id": ENTRY, **WHY}, headers=world["a"])
        assert cleared.status_code == 201, cleared.text
        assert cleared.json()["cleared_by"] == "officer-a@Operator"
        again = strict.post(url, json={"entry_id": ENTRY, **WHY}, headers=world["b"])
        assert again.status_code == 409

        standing = strict.get(f"/v1/organizations/{org}/standing").json()
        assert standing["decision"] == "allow"
        assert [c["entry_id"] for c in standing["clearances"]] == [ENTRY]
        booked = strict.post("/v1/leases", json=A100, headers=renter).json()
        assert booked["status"] == "active"

        # The same entry in a later list version: still cleared.
        import_list(session, tmp_path)
        assert strict.post("/v1/leases", json=A100, headers=renter).json()["status"] == "active"
        # The entry changes: the pair fires again.
        import_list(session, tmp_path, remarks="Also at Hafenweg 3, Hamburg")
        held = strict.post("/v1/leases", json=A100, headers=renter).json()
        assert held["status"] == "pending_review"

    def test_undone_by_another_officer(
        self, strict: TestClient, session: Session, world: dict[str, Any]
    ) -> None:
        org, renter = world["org"], world["renter"]
        url = f"/v1/organizations/{org}/clearances"
        clearance = strict.post(url, json={"entry_id": ENTRY, **WHY}, headers=world["a"]).json()
        assert strict.post("/v1/leases", json=A100, headers=renter).json()["status"] == "active"
        undone = strict.post(
            f"{url}/{clearance['id']}/undo",
            json={"reason": "new information on the founders"},
            headers=world["b"],
        )
        assert undone.status_code == 200, undone.text
        assert undone.json()["undone_by"] == "officer-b@Operator"
        assert strict.get(f"/v1/organizations/{org}/standing").json()["decision"] == "review"
        assert strict.post("/v1/leases", json=A100, headers=renter).json()["status"] == (
            "pending_review"
        )
        (record,) = strict.get(url).json()
        assert (record["cleared_by"], record["undone_by"]) == (
            "officer-a@Operator",
            "officer-b@Operator",
        )
        session.rollback()
        actions = set(session.scalars(select(AuditRecord.action)))
        assert {"clearance.create", "clearance.undo"} <= actions

    def test_a_match_is_not_cleared(
        self, strict: TestClient, world: dict[str, Any], session: Session
    ) -> None:
        org = strict.post("/v1/organizations", json={"name": "Exact", "country": "DE"}).json()
        record = {**CUSTOMER, "legal_name": "Nordlicht Robotics GmbH"}
        assert strict.put(f"/v1/organizations/{org['id']}/dossier", json=record).json()[
            "decision"
        ] == ("deny")
        refused = strict.post(
            f"/v1/organizations/{org['id']}/clearances",
            json={"entry_id": ENTRY, **WHY},
            headers=world["a"],
        )
        assert refused.status_code == 422
        assert "not cleared as a false positive" in refused.json()["detail"][0]["msg"]
        unknown = strict.post(
            f"/v1/organizations/{world['org']}/clearances",
            json={"entry_id": "no-such-entry", **WHY},
            headers=world["a"],
        )
        assert unknown.status_code == 404


def test_holds_expire_but_dossier_changes_wait(
    strict: TestClient, session: Session, world: dict[str, Any]
) -> None:
    lease_id, review_id = held_review(strict, world)
    unrelated = {**CUSTOMER, "legal_name": "Sonnenfeld Datenwerk GmbH"}
    put = strict.put(f"/v1/organizations/{world['org']}/dossier", json=unrelated).json()
    change_review = put["pending_change"]["review_id"]
    later = utcnow() + timedelta(hours=49)  # past the 48-hour hold
    assert reviews.expire_due(session, now=later) == [review_id]
    assert strict.get(f"/v1/leases/{lease_id}").json()["status"] == "rejected"
    expired = strict.get(f"/v1/reviews/{review_id}").json()
    assert (expired["status"], expired["history"][-1]["kind"]) == ("expired", "expired")
    # A dossier change holds no GPUs: it waits (overdue) for an officer.
    waiting = strict.get(f"/v1/reviews/{change_review}").json()
    assert (waiting["status"], waiting["hold_until"]) == ("open", None)


def test_unknown_status_is_a_clear_422(strict: TestClient) -> None:
    response = strict.get("/v1/reviews?status=closed")
    assert response.status_code == 422
    assert response.json()["detail"][0]["fields"] == ["status"]


def test_the_review_and_clearance_commands(tmp_path: Path) -> None:
    from tests.builders import priced_fleet
    from tests.test_cli import ok, run

    env = {"GPURENT_SCREENING_THRESHOLD": str(THRESHOLD)}
    listing, fleet, record = tmp_path / "csl.csv", tmp_path / "fleet.yaml", tmp_path / "n.json"
    listing.write_text(CSL_HEADER + CSL_ROW.format(id=ENTRY, remarks=""))
    fleet.write_text(priced_fleet(nodes=1))
    record.write_text(json.dumps(CUSTOMER))
    ok("org", "create", "Operator", "--kind", "operator")
    ok("lists", "import", str(listing))
    ok("fleet", "import", str(fleet))
    ok("org", "create", "Nordlich", "--country", "DE")
    assert "standing review" in ok("org", "dossier", "Nordlich", str(record), env=env)
    lease = json.loads(
        ok("lease", "create", "A100-80GB", "1", "--hours", "1", "--org", "Nordlich", "--json",
           env=env)
    )  # fmt: skip
    assert lease["status"] == "pending_review"
    (case,) = json.loads(ok("review", "list", "--json"))
    assert (case["causes"], case["four_eyes"]) == (["possible-list-match"], True)
    assert "assigned to cli:" in ok("review", "claim", str(case["id"]))
    ok("review", "note", str(case["id"]), "asked for the register")
    refused = run("review", "assign", str(case["id"]), "nobody-here")
    assert refused.returncode == 1
    assert "not a compliance officer" in refused.stderr
    out = ok("compliance", "clear", "Nordlich", ENTRY, "--reason", "other firm", env=env)
    assert "standing allow" in out
    (cleared,) = json.loads(ok("compliance", "clearances", "Nordlich", "--json"))
    assert cleared["entry_id"] == ENTRY
    ok("compliance", "unclear", "Nordlich", ENTRY, "--reason", "withdrawn", env=env)
    (undone,) = json.loads(ok("compliance", "clearances", "Nordlich", "--json"))
    assert undone["undone_by"] is not None
    shown = json.loads(ok("review", "show", str(case["id"]), "--json"))
    assert [e["kind"] for e in shown["history"]] == ["opened", "claimed", "note"]


def test_which_rules_need_four_eyes() -> None:
    policy = load_policy()
    by_check = {rule.check: rule.id for rule in policy.rules}
    for check in ("listed", "listed_ownership", "listed_owner", "possible_match"):
        assert reviews.needs_four_eyes(policy, [by_check[check]]), check
    for check in ("red_flags", "large_request"):
        assert not reviews.needs_four_eyes(policy, [by_check[check]]), check
    assert reviews.needs_four_eyes(policy, [by_check["red_flags"], by_check["possible_match"]])
    assert not reviews.needs_four_eyes(policy, [])
