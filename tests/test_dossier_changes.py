"""A dossier change is not a decision: a record that would loosen the standing waits for
compliance officers (four eyes where a listed party or ownership is at stake), and the
previous standing holds meanwhile, at the gate too."""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from gpurent.accounts import service as accounts
from gpurent.accounts.roles import Role
from gpurent.audit.models import AuditRecord
from gpurent.compliance import service
from gpurent.compliance.dossier import parse_dossier
from gpurent.compliance.dossier_diff import diff
from gpurent.compliance.policy import load_policy
from gpurent.db.engine import make_engine, make_session_factory
from tests.conftest import make_token
from tests.test_cli import ok
from tests.test_compliance import bundled, mixed_fleet
from tests.test_write_locks import write_lock_free

LISTED = "Moore Threads Intelligent Technology (Beijing) Co., Ltd."  # in the bundled excerpt

# A customer a listed party owns 25% of: below the 50% rules, so held for review.
QUARTERED: dict[str, Any] = {
    "legal_name": "Quartzline Compute Kft.",
    "incorporation_country": "HU",
    "headquarters_country": "HU",
    "owners": [
        {"name": LISTED, "country": "CN", "percent": 25},
        {"name": "Quartzline partners", "country": "HU", "percent": 75},
    ],
}
A100 = {"gpu_model": "A100-80GB", "gpus": 1, "hours": 2}


def without_listed_owner() -> dict[str, Any]:
    data = copy.deepcopy(QUARTERED)
    data["owners"] = [{"name": "Quartzline partners", "country": "HU", "percent": 100}]
    return data


def bearer(engine: Engine, org: str, kind: str, user: str, role: Role) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token(engine, org, kind, user, role)}"}


def customer(client: TestClient, engine: Engine, record: dict[str, Any]) -> tuple[int, Any]:
    """Quartzline with `record` in force, and its renter's headers."""
    org = client.post("/v1/organizations", json={"name": "Quartzline", "country": "HU"})
    assert org.status_code == 201, org.text
    first = client.put(f"/v1/organizations/{org.json()['id']}/dossier", json=record)
    assert first.status_code == 200, first.text
    assert first.json()["pending_change"] is None  # a first record takes effect at once
    return org.json()["id"], bearer(engine, "Quartzline", "customer", "q-renter", Role.RENTER)


def officers(engine: Engine) -> tuple[dict[str, str], dict[str, str]]:
    return (
        bearer(engine, "Operator", "operator", "officer-a", Role.COMPLIANCE),
        bearer(engine, "Operator", "operator", "officer-b", Role.COMPLIANCE),
    )


class TestLooserRecordWaits:
    def test_a_renter_cannot_clear_its_own_review(
        self, client: TestClient, engine: Engine, session: Session
    ) -> None:
        mixed_fleet(session)
        bundled(session)
        org_id, renter = customer(client, engine, QUARTERED)
        standing = client.get(f"/v1/organizations/{org_id}/standing").json()
        assert standing["decision"] == "review", standing
        assert "listed-owner" in {r["rule"] for r in standing["reasons"]}

        # The hostile step: the same customer drops the listed owner from its record.
        put = client.put(
            f"/v1/organizations/{org_id}/dossier", json=without_listed_owner(), headers=renter
        )
        assert put.status_code == 200, put.text
        told = put.json()
        assert told["decision"] == "review"
        assert told["pending_change"]["status"] == "awaiting_review"
        assert "awaits a compliance officer" in told["pending_change"]["message"]
        assert all(r["evidence"] == {} for r in told["reasons"])  # no list details
        seen = client.get(f"/v1/organizations/{org_id}/standing", headers=renter).json()
        assert seen["decision"] == "review"
        assert seen["pending_change"]["review_id"] == told["pending_change"]["review_id"]
        assert seen["clearances"] == []  # officers' business

        # The previous record stays in force, and the gate still holds the lease.
        in_force = client.get(f"/v1/organizations/{org_id}/dossier", headers=renter).json()
        assert LISTED in {o["name"] for o in in_force["owners"]}
        held = client.post("/v1/leases", json=A100, headers=renter)
        assert held.status_code == 201, held.text
        assert held.json()["status"] == "pending_review"

        # The change waits in the queue with the diff of the two records.
        review_id = told["pending_change"]["review_id"]
        case = client.get(f"/v1/reviews/{review_id}").json()
        assert case["kind"] == "dossier_change"
        assert case["four_eyes"] is True
        lifted = {r["rule"] for r in case["dossier_change"]["standing_reasons"]}
        assert "listed-owner" in lifted
        assert set(case["causes"]) == lifted
        material = case["dossier_change"]["diff"]["material"]
        assert {"kind": "owner_removed", "owner": LISTED} in [
            {k: m[k] for k in ("kind", "owner")} for m in material
        ]
        assert {"kind": "share_changed", "owner": "Quartzline partners"} in [
            {k: m.get(k) for k in ("kind", "owner")} for m in material
        ]

        # A renter cannot approve, and one officer alone is not enough.
        reason = {"reason": "ownership change verified with the registry"}
        assert (
            client.post(f"/v1/reviews/{review_id}/approve", json=reason, headers=renter)
        ).status_code == 403
        first_officer, second_officer = officers(engine)
        first = client.post(f"/v1/reviews/{review_id}/approve", json=reason, headers=first_officer)
        assert first.json()["status"] == "awaiting_second_approval", first.text
        again = client.post(f"/v1/reviews/{review_id}/approve", json=reason, headers=first_officer)
        assert again.status_code == 409
        assert again.json()["detail"][0]["code"] == "four_eyes"
        still = client.post("/v1/leases", json=A100, headers=renter).json()
        assert still["status"] == "pending_review"

        second = client.post(
            f"/v1/reviews/{review_id}/approve", json=reason, headers=second_officer
        )
        assert second.json()["status"] == "approved", second.text
        after = client.get(f"/v1/organizations/{org_id}/standing", headers=renter).json()
        assert (after["decision"], after["pending_change"]) == ("allow", None)
        now_in_force = client.get(f"/v1/organizations/{org_id}/dossier").json()
        assert LISTED not in {o["name"] for o in now_in_force["owners"]}
        booked = client.post("/v1/leases", json=A100, headers=renter).json()
        assert booked["status"] == "active"
        # Leases held on the old record keep their own reviews.
        assert client.get(f"/v1/leases/{held.json()['id']}").json()["status"] == "pending_review"

        actions = set(session.scalars(select(AuditRecord.action)))
        assert {"dossier.change_held", "dossier.change_applied"} <= actions

    def test_a_denied_change_leaves_the_record_in_force(
        self, client: TestClient, engine: Engine, session: Session
    ) -> None:
        mixed_fleet(session)
        bundled(session)
        org_id, renter = customer(client, engine, QUARTERED)
        put = client.put(
            f"/v1/organizations/{org_id}/dossier", json=without_listed_owner(), headers=renter
        ).json()
        review_id = put["pending_change"]["review_id"]
        first_officer, _ = officers(engine)
        denied = client.post(
            f"/v1/reviews/{review_id}/deny",
            json={"reason": "the registry still shows the listed owner"},
            headers=first_officer,
        )
        assert denied.json()["status"] == "denied", denied.text
        standing = client.get(f"/v1/organizations/{org_id}/standing").json()
        assert (standing["decision"], standing["pending_change"]) == ("review", None)
        in_force = client.get(f"/v1/organizations/{org_id}/dossier").json()
        assert LISTED in {o["name"] for o in in_force["owners"]}

    def test_deny_to_review_waits_too(
        self, client: TestClient, engine: Engine, session: Session
    ) -> None:
        mixed_fleet(session)
        bundled(session)
        majority = copy.deepcopy(QUARTERED)
        majority["owners"] = [
            {"name": LISTED, "country": "CN", "percent": 60},
            {"name": "Quartzline partners", "country": "HU", "percent": 40},
        ]
        org_id, renter = customer(client, engine, majority)
        assert client.get(f"/v1/organizations/{org_id}/standing").json()["decision"] == "deny"
        put = client.put(
            f"/v1/organizations/{org_id}/dossier", json=QUARTERED, headers=renter
        ).json()
        assert put["decision"] == "deny"
        assert put["pending_change"] is not None
        refused = client.post("/v1/leases", json=A100, headers=renter)
        assert refused.status_code == 403
        assert refused.json()["detail"][0]["code"] == "compliance_denied"

    def test_a_newer_record_supersedes_the_waiting_one(
        self, client: TestClient, engine: Engine, session: Session
    ) -> None:
        mixed_fleet(session)
        bundled(session)
        org_id, renter = customer(client, engine, QUARTERED)
        url = f"/v1/organizations/{org_id}/dossier"
        first = client.put(url, json=without_listed_owner(), headers=renter).json()
        second = client.put(url, json=without_listed_owner(), headers=renter).json()
        old, new = first["pending_change"]["review_id"], second["pending_change"]["review_id"]
        assert old != new
        assert client.get(f"/v1/reviews/{old}").json()["status"] == "superseded"
        pending = client.get("/v1/reviews").json()
        assert [r["id"] for r in pending if r["kind"] == "dossier_change"] == [new]


class TestStricterRecordAtOnce:
    def test_adding_a_listed_owner_takes_effect_at_once(
        self, client: TestClient, engine: Engine, session: Session
    ) -> None:
        mixed_fleet(session)
        bundled(session)
        org_id, renter = customer(client, engine, without_listed_owner())
        assert client.get(f"/v1/organizations/{org_id}/standing").json()["decision"] == "allow"
        put = client.put(f"/v1/organizations/{org_id}/dossier", json=QUARTERED, headers=renter)
        assert put.json()["decision"] == "review"
        assert put.json()["pending_change"] is None
        held = client.post("/v1/leases", json=A100, headers=renter).json()
        assert held["status"] == "pending_review"

    def test_an_equal_record_takes_effect_at_once(
        self, client: TestClient, engine: Engine, session: Session
    ) -> None:
        mixed_fleet(session)
        bundled(session)
        org_id, renter = customer(client, engine, without_listed_owner())
        changed = without_listed_owner()
        changed["emails"] = ["ops@quartzline.example"]
        put = client.put(f"/v1/organizations/{org_id}/dossier", json=changed, headers=renter)
        assert (put.json()["decision"], put.json()["pending_change"]) == ("allow", None)
        in_force = client.get(f"/v1/organizations/{org_id}/dossier").json()
        assert in_force["emails"] == ["ops@quartzline.example"]

    def test_a_licence_the_renter_adds_waits_for_an_officer(
        self, client: TestClient, engine: Engine, session: Session
    ) -> None:
        """The standing (no request) is allow before and after; only a request for
        3A090 hardware shows what the licence would lift: it still waits."""
        mixed_fleet(session)
        bundled(session)
        fixtures = Path(__file__).parent / "fixtures" / "dossiers"
        plain = json.loads((fixtures / "singapore-china-parent.json").read_text())
        licensed = json.loads((fixtures / "singapore-china-parent-licensed.json").read_text())
        org_id, renter = customer(client, engine, plain)
        refused = client.post("/v1/leases", json=A100, headers=renter)
        assert refused.status_code == 403
        put = client.put(f"/v1/organizations/{org_id}/dossier", json=licensed, headers=renter)
        assert put.status_code == 200, put.text
        assert put.json()["pending_change"] is not None
        still = client.post("/v1/leases", json=A100, headers=renter)
        assert still.status_code == 403  # the record in force has no licence

    def test_swapping_one_refusal_for_another_waits_with_four_eyes(
        self, client: TestClient, engine: Engine, session: Session
    ) -> None:
        """deny (a listed 60% owner) -> deny (an embargoed country, owner gone): the
        ownership rule is lifted, so the change waits, and needs two officers."""
        mixed_fleet(session)
        bundled(session)
        fixtures = Path(__file__).parent / "fixtures" / "dossiers"
        owned = json.loads((fixtures / "subsidiary-60-percent.json").read_text())
        org_id, renter = customer(client, engine, owned)
        assert client.get(f"/v1/organizations/{org_id}/standing").json()["decision"] == "deny"
        swapped = copy.deepcopy(owned)
        swapped["owners"] = [{"name": "Bright Meadow founders", "country": "SG", "percent": 100}]
        swapped["incorporation_country"] = "IR"
        put = client.put(f"/v1/organizations/{org_id}/dossier", json=swapped, headers=renter)
        assert put.status_code == 200, put.text
        change = put.json()["pending_change"]
        assert change is not None, put.json()
        review = client.get(f"/v1/reviews/{change['review_id']}").json()
        assert review["four_eyes"] is True


class TestDiff:
    def test_material_changes_are_listed(self) -> None:
        old = parse_dossier(
            {
                **QUARTERED,
                "ultimate_parent": {"name": "Quartz Group", "headquarters_country": "HU"},
                "owners": [
                    {
                        "name": "Holding A",
                        "country": "HU",
                        "percent": 60,
                        "owners": [{"name": LISTED, "country": "CN", "percent": 50}],
                    },
                    {"name": "Holding B", "country": "AT", "percent": 40},
                ],
            }
        )
        new = parse_dossier(
            {
                **QUARTERED,
                "headquarters_country": "AT",
                "phones": ["+36 1 555 0100"],
                "ultimate_parent": {"name": "Quartz Group", "headquarters_country": "SG"},
                "owners": [
                    {"name": "holding  a", "country": "HU", "percent": 60},
                    {"name": "Holding B", "country": "DE", "percent": 39.5},
                ],
            }
        )
        changes = diff(old, new)
        kinds = {(m["kind"], m.get("owner") or m.get("field")) for m in changes["material"]}
        assert kinds == {
            ("country_changed", "headquarters_country"),
            ("ultimate_parent_changed", None),
            ("owner_removed", f"Holding A > {LISTED}"),
            ("share_changed", "Holding B"),
            ("country_changed", "Holding B"),
        }
        assert changes["other_fields"] == ["phones"]

    def test_no_change_no_diff(self) -> None:
        record = parse_dossier(QUARTERED)
        assert diff(record, record) == {"material": [], "other_fields": []}


def test_the_cli_says_the_change_awaits_review(tmp_path: Path) -> None:
    ok("org", "create", "Operator", "--kind", "operator")
    ok("lists", "import", "--bundled")
    ok("org", "create", "Quartzline", "--country", "HU")
    before, after = tmp_path / "before.json", tmp_path / "after.json"
    before.write_text(json.dumps(QUARTERED))
    after.write_text(json.dumps(without_listed_owner()))
    assert "standing review" in ok("org", "dossier", "Quartzline", str(before))
    out = ok("org", "dossier", "Quartzline", str(after))
    assert "standing review" in out
    assert "awaits review" in out
    (case,) = json.loads(ok("review", "list", "--json"))
    assert (case["kind"], case["four_eyes"]) == ("dossier_change", True)
    shown = json.loads(ok("review", "show", str(case["id"]), "--json"))
    assert "owner_removed" in {m["kind"] for m in shown["diff"]["material"]}
    # The command line is one officer: its approval waits for a second one.
    assert "awaiting_second_approval" in ok(
        "review", "approve", str(case["id"]), "--reason", "registry checked"
    )


def test_no_screening_under_the_write_lock(
    sqlite_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Submitting a looser record and approving it screen with the write lock free."""
    path = tmp_path / "locks.db"
    shutil.copy(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    seen: list[bool] = []
    decide: Callable[..., Any] = service.decide

    def probing(*args: Any, **kwargs: Any) -> Any:
        seen.append(write_lock_free(path))
        outcome = decide(*args, **kwargs)
        seen.append(write_lock_free(path))
        return outcome

    try:
        with make_session_factory(engine)() as session:
            bundled(session)
            org = accounts.create_organization(session, "Quartzline", "customer", "HU", actor="t")
            policy = load_policy()
            service.put_dossier(session, org, QUARTERED, actor="t", policy=policy, threshold=0.75)
            monkeypatch.setattr(service, "decide", probing)
            held = service.put_dossier(
                session, org, without_listed_owner(), actor="t", policy=policy, threshold=0.75
            )
            assert held.review_id is not None
            for officer in ("officer-a", "officer-b"):
                service.decide_review(
                    session,
                    held.review_id,
                    approve=True,
                    actor=officer,
                    reason="checked",
                    policy=policy,
                    threshold=0.75,
                )
            assert service.get_dossier(session, org.id) == parse_dossier(without_listed_owner())
    finally:
        engine.dispose()
    # The submission (the new record, and both records with and without the probe) and
    # the final approval: every one of them screened with the write lock free.
    assert len(seen) >= 4
    assert all(seen)
