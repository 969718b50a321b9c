"""Nothing of one tenant reaches another: idempotency keys, lease events, collisions."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from tests.test_compliance import bundled, mixed_fleet, renter

BODY = {"gpu_model": "A100-80GB", "gpus": 1, "hours": 1}


def test_the_same_idempotency_key_from_two_organizations_books_two_leases(
    client: TestClient, engine: Engine, session: Session
) -> None:
    mixed_fleet(session)
    bundled(session)
    a, b = renter(client, engine, "university"), renter(client, engine, "european-start-up")
    key = {"Idempotency-Key": "retry-1"}
    first = client.post("/v1/leases", json=BODY, headers={**a, **key})
    again = client.post("/v1/leases", json=BODY, headers={**a, **key})
    assert first.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json()["id"] == first.json()["id"]
    other = client.post("/v1/leases", json=BODY, headers={**b, **key})
    assert other.status_code == 201, other.text
    assert other.json()["id"] != first.json()["id"]
    assert other.headers.get("Idempotent-Replayed") != "true"
    # A different body under A's key, from B: B learns nothing of A's key.
    different = client.post("/v1/leases", json={**BODY, "hours": 2}, headers={**b, **key})
    assert different.status_code == 409  # B's own key, B's own first request
    assert str(first.json()["id"]) not in different.text
    fresh = client.post(
        "/v1/leases", json={**BODY, "hours": 2}, headers={**b, "Idempotency-Key": "retry-2"}
    )
    assert fresh.status_code == 201


def test_a_preempted_renter_never_learns_who_took_its_gpus(
    client: TestClient, engine: Engine, session: Session
) -> None:
    mixed_fleet(session)
    bundled(session)
    a, b = renter(client, engine, "university"), renter(client, engine, "european-start-up")
    spot = client.post(
        "/v1/leases", json={**BODY, "gpus": 8, "hours": 5, "term": "interruptible"}, headers=a
    )
    assert spot.status_code == 201, spot.text
    taker = client.post("/v1/leases", json={**BODY, "gpus": 8}, headers=b)
    assert taker.status_code == 201, taker.text
    events = client.get(f"/v1/leases/{spot.json()['id']}/events", headers=a).json()
    notice = next(e for e in events if e["kind"] == "preemption_notice")
    assert "another lease" in notice["detail"]
    assert f"lease {taker.json()['id']}" not in notice["detail"]
    text = str(events)
    assert "european-start-up" not in text
    assert notice["actor"] == "another customer"
    assert any(e["actor"].endswith("@university") for e in events)  # its own users by name
    # Staff see who acted.
    staff = client.get(f"/v1/leases/{spot.json()['id']}/events").json()
    assert any("european-start-up" in e["actor"] for e in staff)


def test_a_renter_reads_neither_the_officers_reasons_nor_their_names(
    client: TestClient, engine: Engine, session: Session
) -> None:
    from tests.test_dossier_changes import A100, QUARTERED, customer, officers

    mixed_fleet(session)
    bundled(session)
    _, renter_headers = customer(client, engine, QUARTERED)
    held = client.post("/v1/leases", json=A100, headers=renter_headers).json()
    assert held["status"] == "pending_review"
    review_id = client.get("/v1/reviews").json()[0]["id"]
    reason = {"reason": "entry CSL-4711 cleared after private evidence"}
    for officer in officers(engine):  # four eyes: a listed owner
        approved = client.post(f"/v1/reviews/{review_id}/approve", json=reason, headers=officer)
        assert approved.status_code == 200, approved.text
    events = client.get(f"/v1/leases/{held['id']}/events", headers=renter_headers).json()
    assert events[-1]["to_status"] in ("active", "scheduled")
    assert "CSL-4711" not in str(events)
    assert "officer" not in str(events)  # the officers' names stay with the operator
    assert events[-1]["actor"] == "operator"
